"""Schemas and helpers shared by the API resources: errors, lists and cursors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import marshmallow as ma
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.web.errors import fail

MAX_LIMIT = 100


class ApiErrorSchema(ma.Schema):
    """Every error the API returns."""

    code = ma.fields.String(metadata={"description": "Stable machine-readable error code."})
    status = ma.fields.Integer()
    message = ma.fields.String()
    errors = ma.fields.Dict(metadata={"description": "Messages by field name."})
    reset_at = ma.fields.String(
        metadata={
            "format": "date-time",
            "description": "`quota_exceeded` only: when the daily quota starts again.",
        }
    )


class ListArgs(ma.Schema):
    """Cursor pagination: newest first, ``starting_after`` the last id of the previous page."""

    limit = ma.fields.Integer(load_default=20, validate=ma.validate.Range(1, MAX_LIMIT))
    starting_after = ma.fields.String(validate=ma.validate.Length(max=64))


def list_schema(item: type[ma.Schema]) -> type[ma.Schema]:
    """A ``{object: "list", data: [...], has_more}`` envelope around ``item``."""
    return ma.Schema.from_dict(
        {
            "object": ma.fields.Constant("list"),
            "data": ma.fields.List(ma.fields.Nested(item)),
            "has_more": ma.fields.Boolean(),
        },
        name=f"{item.__name__.removesuffix('Schema')}ListSchema",
    )


def page(
    session: Session,
    query: sa.Select,
    model: Any,
    args: dict[str, Any],
    merchant_id: str,
) -> dict[str, Any]:
    """One page of ``query`` (already scoped to the merchant), newest first.

    The cursor is looked up among all the merchant's rows, not only the filtered ones,
    so a row that changed state between two pages does not break the next one.
    """
    if args.get("starting_after"):
        cursor = session.scalar(
            sa.select(model.seq).where(
                model.id == args["starting_after"], model.merchant_id == merchant_id
            )
        )
        if cursor is None:
            fail(
                422,
                "invalid_cursor",
                "starting_after: no such id in this list",
                {"starting_after": ["no such id in this list"]},
            )
        query = query.where(model.seq < cursor)
    rows: Sequence[Any] = session.scalars(
        query.order_by(model.seq.desc()).limit(args["limit"] + 1)
    ).all()
    return {
        "object": "list",
        "data": rows[: args["limit"]],
        "has_more": len(rows) > args["limit"],
    }
