"""The address book resource: list, add, remove."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
import sqlalchemy as sa
from flask import g
from flask.views import MethodView

from gateway.core.wallet import address_book as service
from gateway.core.wallet import payouts
from gateway.core.wallet.models import AddressBookEntry
from gateway.core.wallet.payouts import PayoutRefused
from gateway.web import db
from gateway.web.api.address_book.schemas import (
    AddressBookCreateSchema,
    AddressBookEntrySchema,
    AddressBookListSchema,
)
from gateway.web.api.back_office import actor, driver_of, payout_settings, refused
from gateway.web.api.base import Blueprint
from gateway.web.api.common import ApiErrorSchema, ListArgs, page
from gateway.web.auth import require
from gateway.web.errors import fail
from gateway.web.idempotency import run_once

blp = Blueprint(
    "address_book",
    __name__,
    description="The address book: destinations payouts may go to (the allow-list).",
)

ENTRY = AddressBookEntrySchema()


def _load(entry_id: str) -> AddressBookEntry:
    query = sa.select(AddressBookEntry).where(
        AddressBookEntry.id == entry_id, AddressBookEntry.merchant_id == g.merchant_id
    )
    entry = db.session().scalar(query.with_for_update())
    if entry is None:
        fail(404, "address_book_entry_not_found", f"no address book entry {entry_id}")
    return entry


@blp.route("")
class AddressBook(MethodView):
    @require("wallets:write")
    @blp.arguments(ListArgs, location="query", unknown=ma.RAISE)
    @blp.response(200, AddressBookListSchema)
    @blp.alt_response(401, schema=ApiErrorSchema, description="Missing or invalid API key")
    def get(self, args: dict[str, Any]):
        """List the address book, newest first"""
        query = sa.select(AddressBookEntry).where(AddressBookEntry.merchant_id == g.merchant_id)
        return page(db.session(), query, AddressBookEntry, args, g.merchant_id)

    @require("wallets:write")
    @blp.arguments(AddressBookCreateSchema)
    @blp.response(201, AddressBookEntrySchema)
    @blp.alt_response(422, schema=ApiErrorSchema, description="Invalid chain or address")
    @blp.alt_response(409, schema=ApiErrorSchema, description="The address is listed already")
    def post(self, body: dict[str, Any]):
        """Add a destination to the address book

        It is usable after the policy's `allowlist_cooldown_minutes`: a stolen key
        cannot add an address and pay out to it at once. Send an `Idempotency-Key`
        header to retry safely.
        """
        session = db.session()
        driver = driver_of(body["chain"])

        def create() -> tuple[AddressBookEntry, int]:
            rules = payouts.policy(session, g.merchant_id, payout_settings())
            try:
                entry = service.add(
                    session, g.merchant_id, driver, actor(), body["address"], body["label"], rules
                )
            except PayoutRefused as exc:
                refused(PayoutRefused(exc.code, str(exc).replace("to ", "address ", 1), "address"))
            except service.EntryExists:
                fail(409, "address_exists", "this address is in the address book already")
            return entry, 201

        return run_once(session, g.merchant_id, ENTRY, create)


@blp.route("/<string:entry_id>")
class AddressBookEntryById(MethodView):
    @require("wallets:write")
    @blp.response(204)
    @blp.alt_response(404, schema=ApiErrorSchema, description="No such entry")
    def delete(self, entry_id: str):
        """Remove a destination from the address book"""
        entry = _load(entry_id)
        service.remove(db.session(), entry, actor())
        db.session().commit()
