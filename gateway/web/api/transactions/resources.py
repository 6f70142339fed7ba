"""The transactions resource: the ledger's movements as JSON pages, or streamed as CSV."""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterator
from typing import Any

import marshmallow as ma
from flask import Response, g, request, stream_with_context
from flask.views import MethodView

from gateway.core.wallet import history
from gateway.web import db
from gateway.web.api.back_office import Decimals
from gateway.web.api.base import Blueprint
from gateway.web.api.common import ApiErrorSchema
from gateway.web.api.transactions.schemas import (
    CSV_COLUMNS,
    TransactionListArgs,
    TransactionListSchema,
    TransactionSchema,
)
from gateway.web.auth import require
from gateway.web.errors import fail

blp = Blueprint(
    "transactions",
    __name__,
    description="Transactions: every movement of money in the ledger, as JSON or CSV.",
)

CSV_TYPE = "text/csv"
ROW = TransactionSchema()


def _wants_csv() -> bool:
    return request.accept_mimetypes.best_match(["application/json", CSV_TYPE]) == CSV_TYPE


def _filter(args: dict[str, Any]) -> history.MovementFilter:
    return history.MovementFilter(
        chain=args.get("chain"),
        kind=args.get("type"),
        order_id=args.get("order_id"),
        created_gte=args.get("created_gte"),
        created_lt=args.get("created_lt"),
    )


def _movements(args: dict[str, Any], release: bool = False) -> Iterator[history.Movement]:
    """The filtered movements after the cursor, newest first, with their decimals set."""
    session, where = db.session(), _filter(args)
    before = None
    if args.get("starting_after"):
        try:
            before = history.position(session, g.merchant_id, args["starting_after"], where)
        except history.NoMovement:
            fail(
                422,
                "invalid_cursor",
                "starting_after: no such id in this list",
                {"starting_after": ["no such id in this list"]},
            )
    decimals = Decimals()
    found = history.movements(session, g.merchant_id, where, before, release=release)
    for movement in found:
        movement.decimals = decimals.of(movement.chain, movement.asset)
        yield movement


def _csv(movements: Iterator[history.Movement]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, CSV_COLUMNS, extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    for movement in movements:
        writer.writerow({k: "" if v is None else v for k, v in ROW.dump(movement).items()})
        if buffer.tell() > 16_384:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


@blp.route("")
class Transactions(MethodView):
    @require("balances:read")
    @blp.arguments(TransactionListArgs, location="query", unknown=ma.RAISE)
    @blp.response(200, TransactionListSchema)
    @blp.alt_response(401, schema=ApiErrorSchema, description="Missing or invalid API key")
    @blp.doc(
        responses={
            200: {
                "content": {
                    CSV_TYPE: {
                        "schema": {
                            "type": "string",
                            "description": "With `Accept: text/csv`: a header row, then one"
                            " row per matching movement, streamed; `limit` does not apply.",
                        }
                    }
                }
            }
        }
    )
    def get(self, args: dict[str, Any]):
        """List the ledger's movements, newest first (JSON, or CSV with Accept: text/csv)

        One row per movement: a confirmed payment, a deposit to the payout wallet, a
        payout's reserve, its release, its sending, its fee, a reorg's reversal.
        Filter by chain, type, order and time; page with `starting_after` (the last
        id you got). Ask with `Accept: text/csv` to export every matching movement as
        CSV, streamed in constant memory however long the history.
        """
        if _wants_csv():
            # each batch in its own short transaction: on SQLite one long export would
            # otherwise hold the write lock for as long as the client takes to read it
            movements = _movements(args, release=True)
            first = list(itertools.islice(movements, 1))  # a bad cursor fails before streaming
            rows = _csv(itertools.chain(first, movements))
            return Response(
                stream_with_context(rows),
                mimetype=CSV_TYPE,
                headers={"Content-Disposition": 'attachment; filename="transactions.csv"'},
            )
        found = list(itertools.islice(_movements(args), args["limit"] + 1))
        return {
            "object": "list",
            "data": found[: args["limit"]],
            "has_more": len(found) > args["limit"],
        }
