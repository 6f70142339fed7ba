"""Marshmallow schemas of the address book resource."""

from __future__ import annotations

import marshmallow as ma

from gateway.core.schemas import Timestamp
from gateway.web.api.common import list_schema


class AddressBookEntrySchema(ma.Schema):
    """A destination payouts may go to once ``usable_after`` has passed."""

    id = ma.fields.String(metadata={"example": "adr_3kq0c4v9x2m7b1n8z5wa"})
    object = ma.fields.Constant("address_book_entry")
    chain = ma.fields.String()
    address = ma.fields.String()
    label = ma.fields.String()
    usable_after = Timestamp(
        metadata={"description": "Added + the policy's allowlist_cooldown_minutes."}
    )
    created_by = ma.fields.String(metadata={"description": "The API key that added it."})
    created_at = Timestamp()


class AddressBookCreateSchema(ma.Schema):
    """A destination to add."""

    chain = ma.fields.String(
        required=True, validate=ma.validate.Length(1, 32), metadata={"example": "ethereum"}
    )
    address = ma.fields.String(required=True, validate=ma.validate.Length(1, 100))
    label = ma.fields.String(load_default="", validate=ma.validate.Length(max=200))


AddressBookListSchema = list_schema(AddressBookEntrySchema)
