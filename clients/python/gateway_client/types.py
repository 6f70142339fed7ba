"""The shapes the API answers with, as TypedDicts (the OpenAPI document has every field)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypedDict, TypeVar

T = TypeVar("T")


class Order(TypedDict, total=False):
    """An order: what the buyer pays, where, and how far it got."""

    id: str
    object: str
    status: str  # pending, confirming, paid, expired, cancelled
    version: int
    chain: str
    token: str
    reference: str
    amount: str
    amount_base_units: str
    decimals: int
    amount_received: str
    amount_confirmed: str
    underpaid: bool
    overpaid: bool
    late: bool
    address: str
    payment_uri: str
    checkout_url: str | None
    metadata: dict[str, Any]
    expires_at: str
    created_at: str
    updated_at: str
    paid_at: str | None
    cancelled_at: str | None


class Payment(TypedDict, total=False):
    """One on-chain transfer to an order's address."""

    id: str
    order_id: str
    chain: str
    status: str  # seen, confirmed, reverted
    tx_hash: str
    block_number: int
    from_address: str
    to_address: str
    amount: str
    amount_base_units: str
    late: bool
    created_at: str
    confirmed_at: str | None


class WebhookEndpoint(TypedDict, total=False):
    """Where events are posted; ``secret`` only when created or rotated."""

    id: str
    url: str
    event_types: list[str]
    enabled: bool
    description: str
    secret: str
    disabled_reason: str | None
    failing_since: str | None
    created_at: str


class Delivery(TypedDict, total=False):
    """One event on its way to one endpoint, with its attempts when fetched alone."""

    id: str
    event_id: str
    endpoint_id: str
    status: str  # pending, succeeded, failed
    attempt_count: int
    next_attempt_at: str | None
    last_status_code: int | None
    delivered_at: str | None
    attempts: list[dict[str, Any]]


class Event(TypedDict, total=False):
    """An event as webhooks, the list and the stream carry it (``id`` is the webhook-id)."""

    id: str
    object: str
    type: str
    api_version: str
    timestamp: str
    data: dict[str, Any]


class Payout(TypedDict, total=False):
    """Money sent from a payout wallet."""

    id: str
    status: str
    chain: str
    to: str
    amount: str
    reference: str
    order_id: str | None
    tx_hash: str | None
    fee_estimate: str | None
    created_at: str


@dataclass
class Page(Generic[T]):
    """One page of a list; :meth:`auto_paging_iter` walks this page and every next one."""

    data: list[T]
    has_more: bool
    _next: Callable[[str], Page[T]] | None = field(default=None, repr=False)

    def __iter__(self) -> Iterator[T]:
        return iter(self.data)

    def auto_paging_iter(self) -> Iterator[T]:
        """Every item from this page on, fetching the next pages as needed."""
        page: Page[T] = self
        while True:
            yield from page.data
            if not page.has_more or not page.data or page._next is None:
                return
            page = page._next(page.data[-1]["id"])  # type: ignore[index]
