"""Marshmallow schemas of the events resource."""

from __future__ import annotations

import marshmallow as ma

from gateway.core.events import TYPES
from gateway.core.feed import HIDDEN
from gateway.core.schemas import EventSchema
from gateway.web.api.common import ListArgs, list_schema

FEED_TYPES = [t for t in TYPES if t not in HIDDEN]

EventListSchema = list_schema(EventSchema)


class StreamArgs(ma.Schema):
    """Which events a stream carries."""

    type = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(FEED_TYPES)),
        metadata={"description": "Only these types (repeat the parameter for several)."},
    )
    order_id = ma.fields.String(
        validate=ma.validate.Length(1, 64),
        metadata={"description": "Only the events of this order (its order.* and payment.*)."},
    )


class EventListArgs(ListArgs, StreamArgs):
    """Filters and paging of the event list."""

    direction = ma.fields.String(
        load_default="desc",
        validate=ma.validate.OneOf(["desc", "asc"]),
        metadata={
            "description": "`desc`: newest first, as every list. `asc`: oldest first, to catch"
            " up: `starting_after` the last event you handled, until `has_more` is false."
        },
    )
    created_gte = ma.fields.AwareDateTime(
        default_timezone=None, metadata={"description": "Created at or after."}
    )
    created_lt = ma.fields.AwareDateTime(
        default_timezone=None, metadata={"description": "Created before."}
    )
