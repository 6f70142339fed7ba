"""A merchant's payout policy (approval threshold, daily limit, allow-list), replaced, audited."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sqlalchemy.orm import Session

from gateway.core import audit
from gateway.core.audit import Actor
from gateway.core.models import utcnow
from gateway.core.wallet import payouts
from gateway.core.wallet.models import PayoutPolicy
from gateway.core.wallet.payouts import Policy


def replace(
    session: Session,
    merchant_id: str,
    actor: Actor,
    values: dict[str, Any],
    defaults: dict[str, Any],
) -> Policy:
    """Store ``values`` as the merchant's policy (its row created on first use)."""
    before = payouts.policy(session, merchant_id, defaults)
    # one statement, so two first updates at once cannot both insert the row
    table = PayoutPolicy.__table__
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    row = {"merchant_id": merchant_id, **values}
    statement = insert(table).values(row)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.merchant_id],
        set_={**values, "updated_at": utcnow()},
    )
    session.execute(statement)
    session.expire_all()
    after = payouts.policy(session, merchant_id, defaults)
    audit.record(
        session,
        merchant_id,
        actor,
        "payout_policy.update",
        merchant_id,
        before=asdict(before),
        after=asdict(after),
    )
    return after
