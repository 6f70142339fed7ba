"""Marshmallow schemas of the payout wallets resource."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from gateway.core.wallet.models import WalletMode
from gateway.core.wallet.schemas import WalletSchema
from gateway.web.api.common import list_schema


class WalletCreateSchema(ma.Schema):
    """A hot wallet (the gateway generates and keeps the key) or an external one."""

    chain = ma.fields.String(
        required=True, validate=ma.validate.Length(1, 32), metadata={"example": "ethereum"}
    )
    mode = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf([str(m) for m in WalletMode]),
        metadata={
            "description": "`hot`: the gateway generates a key and keeps it encrypted under"
            " its passphrase; `external`: you sign each payout elsewhere."
        },
    )
    address = ma.fields.String(
        validate=ma.validate.Length(1, 100),
        metadata={"description": "External wallets only: the address payouts leave from."},
    )

    @ma.validates_schema
    def _address_for_external_only(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("mode") == WalletMode.EXTERNAL and "address" not in data:
            raise ma.ValidationError("required for an external wallet", "address")
        if data.get("mode") == WalletMode.HOT and "address" in data:
            raise ma.ValidationError("a hot wallet's address comes from its new key", "address")


WalletListSchema = list_schema(WalletSchema)
