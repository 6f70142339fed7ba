"""Marshmallow schemas of the payout policy resource."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from gateway.core.money import MAX_DECIMALS, to_base_units, to_decimal_string

_MAX_MINUTES = 366 * 24 * 60


class PolicySchema(ma.Schema):
    """The rules every payout is checked against (a merchant's own, or the defaults)."""

    object = ma.fields.Constant("payout_policy")
    approval_threshold = ma.fields.String(
        metadata={
            "description": "Payouts of at least this many USDT wait for approval by another"
            ' API key with `payouts:approve`; "0": every payout does.'
        }
    )
    daily_limit = ma.fields.Function(
        lambda policy: policy.daily_limit or None,
        allow_none=True,
        metadata={
            "type": "string",
            "description": "Most USDT paid out per UTC day over all chains; null: no limit.",
        },
    )
    allowlist_only = ma.fields.Boolean(
        metadata={"description": "Payouts only to address book entries past their cooldown."}
    )
    allowlist_cooldown_minutes = ma.fields.Integer(
        metadata={"description": "How long a new address book entry waits before use."}
    )


class StrictBoolean(ma.fields.Boolean):
    """true or false, never 1, "yes" or "true"."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


def _canonical(text: str) -> str:
    """A decimal string in its shortest form; ValidationError when it is not one."""
    try:
        return to_decimal_string(to_base_units(text, MAX_DECIMALS), MAX_DECIMALS)
    except ValueError as exc:
        raise ma.ValidationError(str(exc)) from None


class PolicyUpdateSchema(ma.Schema):
    """The whole policy: every field is required (PUT replaces it)."""

    approval_threshold = ma.fields.String(
        required=True,
        validate=ma.validate.Length(1, 40),
        metadata={"description": 'Decimal string, e.g. "1000".', "example": "1000"},
    )
    daily_limit = ma.fields.String(
        required=True,
        allow_none=True,
        validate=ma.validate.Length(1, 40),
        metadata={"description": "Decimal string, or null for no limit.", "example": "5000"},
    )
    allowlist_only = StrictBoolean(required=True)
    allowlist_cooldown_minutes = ma.fields.Integer(
        required=True, strict=True, validate=ma.validate.Range(0, _MAX_MINUTES)
    )

    @ma.post_load
    def _canonical_amounts(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        errors = {}
        for name in ("approval_threshold", "daily_limit"):
            if data[name] is None:
                continue
            try:
                data[name] = _canonical(data[name])
            except ma.ValidationError as exc:
                errors[name] = exc.messages
        if errors:
            raise ma.ValidationError(errors)
        return data
