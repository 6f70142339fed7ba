"""A merchant's dashboard settings: 2FA policy, default order expiry, checkout branding."""

from __future__ import annotations

from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gateway.core.accounts.models import MerchantSettings


class BadSetting(ValueError):
    """A setting refused; ``field`` names it."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


def of(session: Session, merchant_id: str) -> MerchantSettings:
    """The merchant's settings (defaults when never saved; not added to the session)."""
    found = session.get(MerchantSettings, merchant_id)
    if found is None:
        return MerchantSettings(
            merchant_id=merchant_id,
            require_2fa=False,
            order_expiry_minutes=None,
            brand_name="",
            logo_url="",
            return_url="",
        )
    return found


def _stored(session: Session, merchant_id: str) -> MerchantSettings:
    found = session.get(MerchantSettings, merchant_id, with_for_update=True)
    if found is None:
        found = of(session, merchant_id)
        session.add(found)
    return found


def check_url(url: str, field: str) -> str:
    """An http(s) URL with a host, or "" for none; BadSetting otherwise."""
    url = url.strip()
    if not url:
        return ""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc or len(url) > 500:
        raise BadSetting("must be an http:// or https:// URL", field)
    return url


def update_branding(session: Session, merchant_id: str, name: str, logo: str, back: str) -> None:
    """Set the checkout page's shop name, logo URL and return URL."""
    if len(name.strip()) > 100:
        raise BadSetting("at most 100 characters", "brand_name")
    logo, back = check_url(logo, "logo_url"), check_url(back, "return_url")
    row = _stored(session, merchant_id)
    row.brand_name, row.logo_url, row.return_url = name.strip(), logo, back


def update_orders(session: Session, merchant_id: str, expiry: int | None, most: int) -> None:
    """Set the default expiry of new orders in minutes (None: the configuration's)."""
    if expiry is not None and not 1 <= expiry <= most:
        raise BadSetting(f"between 1 and {most} minutes", "order_expiry_minutes")
    _stored(session, merchant_id).order_expiry_minutes = expiry


def require_2fa(session: Session, merchant_id: str, required: bool) -> None:
    """Require (or not) two-factor authentication of every user of the merchant."""
    _stored(session, merchant_id).require_2fa = required


_EXPIRY = sa.select(MerchantSettings.order_expiry_minutes).where(
    MerchantSettings.merchant_id == sa.bindparam("merchant_id")
)


def order_expiry_minutes(session: Session, merchant_id: str) -> int | None:
    """The merchant's default order expiry, or None for the configuration's (one Core
    statement: every order the API creates without ``expires_in`` asks)."""
    return session.connection().execute(_EXPIRY, {"merchant_id": merchant_id}).scalar()
