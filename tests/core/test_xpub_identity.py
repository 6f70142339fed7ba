"""One key, one merchant: an xpub is known by its public key and chain code, not its text.

An extended key also carries its depth, parent fingerprint, child number and version,
none of which changes the addresses it derives; re-encoding it with other values there
must not let a second merchant register the same addresses.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime

import pytest
import sqlalchemy as sa
from alembic import command
from bip_utils import Base58Decoder, Base58Encoder, Bip44Coins

from gateway.cli import migrate
from gateway.core import addresses
from gateway.core.models import HdAccount
from gateway.web import db
from gateway.web.chains import drivers
from plugins.hd import account_key_id, child_address
from tests.support.databases import POSTGRES_URL, postgres_reachable
from tests.support.keys import account_xpub

VICTIM_XPUB = account_xpub(Bip44Coins.ETHEREUM, account=5)


def reencoded(xpub: str, *, version: bytes | None = None, fingerprint: bytes = bytes(4)) -> str:
    """``xpub`` with another version and parent fingerprint, re-checksummed: same key."""
    raw = Base58Decoder.CheckDecode(xpub)
    version = raw[:4] if version is None else version
    return Base58Encoder.CheckEncode(version + raw[4:5] + fingerprint + raw[9:])


ZEROED = reencoded(VICTIM_XPUB)


def test_the_zeroed_fingerprint_xpub_is_another_string_for_the_same_addresses():
    assert ZEROED != VICTIM_XPUB
    for index in (0, 7):
        assert child_address(ZEROED, index, Bip44Coins.ETHEREUM) == child_address(
            VICTIM_XPUB, index, Bip44Coins.ETHEREUM
        )


def test_key_id_ignores_version_depth_fingerprint_and_child_number():
    key_id = account_key_id(VICTIM_XPUB)
    raw = Base58Decoder.CheckDecode(VICTIM_XPUB)
    other_number = Base58Encoder.CheckEncode(raw[:9] + bytes.fromhex("80000009") + raw[13:])
    other_depth = Base58Encoder.CheckEncode(raw[:4] + b"\x07" + raw[5:])
    tpub = reencoded(VICTIM_XPUB, version=bytes.fromhex("043587cf"), fingerprint=b"\xff" * 4)
    for variant in (ZEROED, other_number, other_depth, tpub, f"  {VICTIM_XPUB}\n"):
        assert account_key_id(variant) == key_id
    assert key_id == (raw[45:78] + raw[13:45]).hex()  # compressed key, then chain code
    assert account_key_id(account_xpub(Bip44Coins.ETHEREUM, account=6)) != key_id


@pytest.mark.parametrize("bad", ["", "not-a-key", VICTIM_XPUB[:-1] + "x"])
def test_key_id_refuses_what_is_not_an_extended_key(bad):
    with pytest.raises(ValueError):
        account_key_id(bad)


def test_a_reencoded_xpub_of_another_merchant_is_refused(app, make_merchant):
    victim = make_merchant("victim", xpubs={"devnet": VICTIM_XPUB})
    for variant in (ZEROED, reencoded(VICTIM_XPUB, fingerprint=b"\x01\x02\x03\x04")):
        with pytest.raises(ValueError, match="registered to another merchant"):
            make_merchant("thief", xpubs={"devnet": variant})
    with app.app_context():
        accounts = db.session().execute(sa.select(HdAccount.merchant_id, HdAccount.key_id)).all()
    assert [tuple(row) for row in accounts] == [(victim.id, account_key_id(VICTIM_XPUB))]


def test_the_cli_refuses_it_with_the_same_message(runner):
    def invoke(*args):
        return runner.invoke(args=list(args), catch_exceptions=False)

    invoke("merchant", "create", "A")
    invoke("merchant", "create", "B")
    assert invoke("merchant", "xpub", "A", "devnet", VICTIM_XPUB).exit_code == 0
    taken = invoke("merchant", "xpub", "B", "devnet", ZEROED)
    assert taken.exit_code != 0 and "another merchant" in taken.output


def test_a_merchant_may_reencode_its_own_key_after_use(app, make_merchant):
    """Same key, same addresses: nothing handed out is orphaned, so it is not a key swap."""
    merchant = make_merchant("shop", xpubs={"devnet": VICTIM_XPUB})
    with app.app_context(), db.transaction() as session:
        session.execute(sa.update(HdAccount).values(next_index=3))
    with app.app_context(), db.transaction() as session:
        account = addresses.register_xpub(session, merchant.id, drivers()["devnet"], ZEROED)
        assert (account.xpub, account.next_index) == (ZEROED, 3)
        other = account_xpub(Bip44Coins.ETHEREUM, account=6)
        with pytest.raises(ValueError, match="already in use"):
            addresses.register_xpub(session, merchant.id, drivers()["devnet"], other)


# -- migration 0003 fills the identity of keys stored before it ---------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def at_0002(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """A fresh database migrated to 0002 only, on each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.db'}"
        migrate.upgrade(url, "0002")
        yield url
        return
    if not postgres_reachable():
        pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432")
    schema = f"gw_mig_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
        migrate.upgrade(url, "0002")
        yield url
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _insert_accounts(url: str, rows: list[tuple[str, str, str]]) -> None:
    """Store merchants' keys as 0002 did, each with an order: rebuilding a table that
    orders point at is what SQLite's foreign keys make hard."""
    engine = sa.create_engine(url)
    now = datetime(2026, 1, 1)
    with engine.begin() as conn:
        meta = sa.MetaData()
        merchants, accounts, orders = (
            sa.Table(name, meta, autoload_with=conn)
            for name in ("merchants", "hd_accounts", "orders")
        )
        for number, (merchant_id, family, xpub) in enumerate(rows):
            if not conn.scalar(sa.select(merchants.c.id).where(merchants.c.id == merchant_id)):
                conn.execute(
                    merchants.insert().values(id=merchant_id, name=merchant_id, created_at=now)
                )
            account_id = conn.execute(
                accounts.insert().values(
                    merchant_id=merchant_id, family=family, xpub=xpub, next_index=1, created_at=now
                )
            ).inserted_primary_key[0]
            conn.execute(
                orders.insert().values(
                    id=f"ord_{number}",
                    merchant_id=merchant_id,
                    chain=family,
                    reference="r",
                    amount="1",
                    decimals=6,
                    token="t",
                    address=f"a{number}",
                    payment_uri="u",
                    hd_account_id=account_id,
                    hd_index=0,
                    status="pending",
                    amount_seen="0",
                    amount_confirmed="0",
                    underpaid=False,
                    overpaid=False,
                    late=False,
                    metadata={},
                    expires_at=now,
                    created_at=now,
                    updated_at=now,
                )
            )
    engine.dispose()


def _stored(url: str) -> list[tuple]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT a.family, a.key_id, o.id FROM hd_accounts a"
                " JOIN orders o ON o.hd_account_id = a.id ORDER BY a.family"
            )
        ).all()
    engine.dispose()
    return [tuple(row) for row in rows]


def test_migration_fills_key_id_of_existing_accounts(at_0002):
    tron = account_xpub(Bip44Coins.TRON, account=5)
    _insert_accounts(at_0002, [("mch_a", "evm", VICTIM_XPUB), ("mch_a", "tron", tron)])
    migrate.upgrade(at_0002, "0003")
    assert _stored(at_0002) == [
        ("evm", account_key_id(VICTIM_XPUB), "ord_0"),
        ("tron", account_key_id(tron), "ord_1"),
    ]
    engine = sa.create_engine(at_0002)
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO merchants (id, name, created_at) VALUES ('mch_b', 'b', :now)"),
            {"now": datetime(2026, 1, 1)},
        )
        conn.execute(
            sa.text(
                "INSERT INTO hd_accounts"
                " (merchant_id, family, xpub, key_id, next_index, created_at)"
                " VALUES ('mch_b', 'evm', :xpub, :key_id, 0, :now)"
            ),
            {"xpub": ZEROED, "key_id": account_key_id(ZEROED), "now": datetime(2026, 1, 1)},
        )
    engine.dispose()


def test_migration_downgrades_and_upgrades_again(at_0002):
    _insert_accounts(at_0002, [("mch_a", "evm", VICTIM_XPUB)])
    migrate.upgrade(at_0002, "0003")
    command.downgrade(migrate.alembic_config(at_0002), "0002")
    engine = sa.create_engine(at_0002)
    with engine.connect() as conn:
        columns = {c["name"] for c in sa.inspect(conn).get_columns("hd_accounts")}
    engine.dispose()
    assert "key_id" not in columns
    migrate.upgrade(at_0002, "0003")
    assert _stored(at_0002) == [("evm", account_key_id(VICTIM_XPUB), "ord_0")]


def test_migration_stops_on_two_merchants_already_sharing_a_key(at_0002):
    """Such data needs an operator's decision; silently keeping one would strand the other."""
    _insert_accounts(at_0002, [("mch_a", "evm", VICTIM_XPUB), ("mch_b", "evm", ZEROED)])
    with pytest.raises(RuntimeError, match=r"evm: mch_a, mch_b"):
        migrate.upgrade(at_0002, "0003")
