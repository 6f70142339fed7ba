"""The public shapes of orders and payments: one schema each, for the API and webhooks alike.

Schemas dump model objects. The API answers with them and events carry what they dump,
so a field reaches both or neither, and the OpenAPI document describes both.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import marshmallow as ma
from sqlalchemy.orm import object_session, sessionmaker

from gateway.core.events import API_VERSION
from gateway.core.events import TYPES as EVENT_TYPES
from gateway.core.models import Order, OrderStatus, Payment, PaymentStatus
from gateway.core.money import to_decimal_string

# Session.info key: the public URL the hosted checkout page of an order id is appended to
CHECKOUT_PREFIX = "checkout_url_prefix"


def iso(moment: datetime | None) -> str | None:
    """An aware UTC datetime as ISO 8601 with a ``Z``, the form every answer uses."""
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


class Timestamp(ma.fields.String):
    """A UTC datetime as ISO 8601 with ``Z``."""

    def __init__(self, **kwargs: Any) -> None:
        metadata = {"format": "date-time", **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)

    def _serialize(self, value: datetime | None, attr: Any, obj: Any, **kwargs: Any) -> Any:
        return iso(value)


class Amount(ma.fields.String):
    """Base units of ``source`` as a decimal string at the token's decimals."""

    def __init__(self, source: str, decimals: Callable[[Any], int], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source, self.decimals = source, decimals

    def serialize(self, attr: str, obj: Any, accessor: Any = None, **kwargs: Any) -> Any:
        return to_decimal_string(getattr(obj, self.source), self.decimals(obj))


class BaseUnits(ma.fields.String):
    """Base units of ``source`` as an integer string (JSON numbers lose digits past 2**53)."""

    def __init__(self, source: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source = source

    def serialize(self, attr: str, obj: Any, accessor: Any = None, **kwargs: Any) -> Any:
        return str(getattr(obj, self.source))


def link_checkout(sessions: sessionmaker, prefix: str) -> None:
    """Have orders loaded through ``sessions`` dump with ``prefix + id`` as checkout_url.

    The prefix travels in each session's ``info``, so every process that builds the app
    (web, watcher) puts the same link in API answers and webhook events alike, and the
    services keep knowing nothing of HTTP or of the app.
    """
    sessions.configure(info={**sessions.kw.get("info", {}), CHECKOUT_PREFIX: prefix})


def checkout_url(order: Order) -> str | None:
    """The buyer's hosted payment page; None where no checkout page is configured."""
    session = object_session(order)
    prefix = session.info.get(CHECKOUT_PREFIX) if session is not None else None
    return None if prefix is None else prefix + order.id


def _order_decimals(order: Order) -> int:
    return order.decimals


def _payment_decimals(payment: Payment) -> int:
    # a deposit has no order: its payout wallet knows the token
    return payment.order.decimals if payment.order is not None else payment.wallet.decimals


class OrderSchema(ma.Schema):
    """An order and where to pay it."""

    id = ma.fields.String(metadata={"example": "ord_3kq0c4v9x2m7b1n8z5wa"})
    object = ma.fields.Constant("order")
    status = ma.fields.String(metadata={"enum": [str(s) for s in OrderStatus]})
    version = ma.fields.Integer(
        metadata={
            "description": "Counts the order's announced changes: of two copies of an order"
            " (in webhooks, or answers), the one with the higher version is the newer."
        }
    )
    chain = ma.fields.String()
    token = ma.fields.String(metadata={"description": "Token contract on that chain."})
    reference = ma.fields.String()
    amount = Amount(
        "amount", _order_decimals, metadata={"description": "Amount due, decimal string."}
    )
    amount_base_units = BaseUnits("amount", metadata={"description": "Amount due in base units."})
    decimals = ma.fields.Integer()
    amount_received = Amount(
        "amount_seen", _order_decimals, metadata={"description": "Seen on chain, not reverted."}
    )
    amount_confirmed = Amount("amount_confirmed", _order_decimals)
    underpaid = ma.fields.Boolean()
    overpaid = ma.fields.Boolean()
    late = ma.fields.Boolean(
        metadata={"description": "Money arrived after expiry, or sits on a closed order."}
    )
    address = ma.fields.String(
        metadata={"description": "Deposit address, used by this order only."}
    )
    payment_uri = ma.fields.String()
    checkout_url = ma.fields.Function(
        checkout_url,
        allow_none=True,
        metadata={
            "type": "string",
            "description": "Hosted page where the buyer pays this order.",
        },
    )
    meta = ma.fields.Dict(data_key="metadata")
    expires_at = Timestamp()
    created_at = Timestamp()
    updated_at = Timestamp()
    paid_at = Timestamp(allow_none=True)
    cancelled_at = Timestamp(allow_none=True)


class PaymentSchema(ma.Schema):
    """One on-chain transfer to an order's address."""

    id = ma.fields.String(metadata={"example": "pay_0f3kq8x2m7b1n8z5wa9c"})
    object = ma.fields.Constant("payment")
    order_id = ma.fields.String()
    chain = ma.fields.String()
    status = ma.fields.String(metadata={"enum": [str(s) for s in PaymentStatus]})
    tx_hash = ma.fields.String()
    log_index = ma.fields.Integer()
    block_number = ma.fields.Integer()
    block_hash = ma.fields.String()
    from_address = ma.fields.String()
    to_address = ma.fields.String()
    amount = Amount("amount", _payment_decimals, metadata={"description": "Decimal string."})
    amount_base_units = BaseUnits("amount")
    late = ma.fields.Boolean()
    created_at = Timestamp()
    confirmed_at = Timestamp(allow_none=True)
    reverted_at = Timestamp(allow_none=True)


class PaymentWithOrderSchema(PaymentSchema):
    """A payment with its order as it stands after the payment's change (payment events)."""

    order = ma.fields.Nested(OrderSchema)


ORDER = OrderSchema()
PAYMENT_WITH_ORDER = PaymentWithOrderSchema()


def event_body(type_: str, created_at: datetime, data: dict[str, Any]) -> dict[str, Any]:
    """An event as webhooks, the events API and the stream carry it (the API adds its id)."""
    return {"type": type_, "api_version": API_VERSION, "timestamp": iso(created_at), "data": data}


class EventBodySchema(ma.Schema):
    """What every event body has: its type, the API version of its shape, and when."""

    type = ma.fields.String(metadata={"enum": list(EVENT_TYPES)})
    api_version = ma.fields.Constant(
        API_VERSION,
        metadata={
            "type": "string",
            "description": "The version of the API whose shapes `data` follows.",
        },
    )
    timestamp = Timestamp(metadata={"description": "When the change happened."})


class OrderEventSchema(EventBodySchema):
    """The body of an ``order.*`` webhook: the order as it stands after the change."""

    type = ma.fields.String(metadata={"enum": [t for t in EVENT_TYPES if t.startswith("order.")]})
    data = ma.fields.Nested(OrderSchema)


class PaymentEventSchema(EventBodySchema):
    """The body of a ``payment.*`` webhook: the payment, with its order as it now stands."""

    type = ma.fields.String(metadata={"enum": [t for t in EVENT_TYPES if t.startswith("payment.")]})
    data = ma.fields.Nested(PaymentWithOrderSchema)


class EventSchema(EventBodySchema):
    """An event of the events API and stream: a webhook's body with the event's id."""

    id = ma.fields.String(
        metadata={"example": "evt_3kq0c4v9x2m7b1n8z5wa", "description": "The webhook-id too."}
    )
    object = ma.fields.Constant("event")
    timestamp = Timestamp(attribute="created_at")
    data = ma.fields.Dict(
        metadata={
            "description": "The object, as the webhook of this type carries it: see OrderEvent,"
            " PaymentEvent, PayoutEvent, DepositEvent and LowGasEvent."
        }
    )


class PingSchema(ma.Schema):
    """A test event: which endpoint it was sent to, and when it was asked for."""

    object = ma.fields.Constant("ping")
    endpoint_id = ma.fields.String(metadata={"example": "whk_0f3kq8x2m7b1n8z5wa9c"})
    message = ma.fields.String()
    sent_at = Timestamp()


class PingEventSchema(EventBodySchema):
    """The body of a ``ping`` webhook: a test the merchant sent from the dashboard to one
    endpoint. It reports no change; answer 2xx."""

    type = ma.fields.String(metadata={"enum": ["ping"]})
    data = ma.fields.Nested(PingSchema)


PING = PingSchema()
EVENT = EventSchema()


#: The documented schema of each order and payment event's webhook body, by type.
EVENT_SCHEMAS = {
    **{t: OrderEventSchema for t in EVENT_TYPES if t.startswith("order.")},
    **{t: PaymentEventSchema for t in EVENT_TYPES if t.startswith("payment.")},
}
