"""What the back office's resources share: the actor, the chain, the keyring, amounts."""

from __future__ import annotations

from typing import Any, NoReturn

import marshmallow as ma
from flask import current_app, g, request

from gateway.core.audit import Actor
from gateway.core.money import to_decimal_string
from gateway.core.wallet import history
from gateway.core.wallet.keys import KeyRing
from gateway.core.wallet.payouts import PayoutRefused
from gateway.web import db
from gateway.web.chains import drivers
from gateway.web.errors import fail, field_error
from plugins.base import ChainDriver, DriverError


def actor() -> Actor:
    """Who acts in this request: its API key and the address it came from."""
    return Actor(g.api_key.id, request.remote_addr)


def keyring() -> KeyRing:
    """The app's KeyRing (disabled when no passphrase is configured)."""
    return current_app.extensions["keyring"]


def payout_settings() -> dict[str, Any]:
    """The ``[payouts]`` section: the policy's defaults."""
    return current_app.config["GATEWAY"]["payouts"]


def driver_of(chain: str, field: str = "chain") -> ChainDriver:
    """The enabled chain's driver, or a 422 naming ``field``."""
    available = drivers()
    driver = available.get(chain)
    if driver is None:
        names = ", ".join(sorted(available)) or "none"
        field_error(field, f"unknown or disabled chain (enabled: {names})")
    return driver


def unavailable(driver: ChainDriver) -> NoReturn:
    """503: the chain's node did not answer."""
    fail(503, "chain_unavailable", f"the {driver.name} node cannot be reached; retry later")


def refused(exc: PayoutRefused) -> NoReturn:
    """A refusal of the core as its status and code, naming the field at fault."""
    if exc.field is None:
        fail(exc.status, exc.code, str(exc))
    fail(exc.status, exc.code, f"{exc.field}: {exc}", {exc.field: [str(exc)]})


class Decimals:
    """Token and native decimals by chain for this request: from the driver, else from an
    order or payout of the chain; None when neither can say (amounts then show in base
    units only)."""

    def __init__(self) -> None:
        self._tokens: dict[str, int | None] = {}

    def token(self, chain: str) -> int | None:
        if chain not in self._tokens:
            found = None
            driver = drivers().get(chain)
            if driver is not None:
                try:
                    found = driver.decimals()
                except DriverError:
                    found = None
            if found is None:
                found = history.known_decimals(db.session(), chain)
            self._tokens[chain] = found
        return self._tokens[chain]

    @staticmethod
    def native(chain: str) -> int | None:
        driver = drivers().get(chain)
        return None if driver is None else history.NATIVE_DECIMALS.get(driver.family)

    def of(self, chain: str, asset: str) -> int | None:
        return self.native(chain) if asset == "native" else self.token(chain)


def signed_decimal(units: int, decimals: int) -> str:
    """Base units as a decimal string, with a minus sign when negative."""
    text = to_decimal_string(abs(units), decimals)
    return f"-{text}" if units < 0 else text


class Units(ma.fields.String):
    """Base units in ``source`` as a decimal string at the decimals in ``decimals`` (both
    attributes of the object); null when either is unknown."""

    def __init__(self, source: str, decimals: str, **kwargs: Any) -> None:
        super().__init__(allow_none=True, **kwargs)
        self.source, self.decimals = source, decimals

    def serialize(self, attr: str, obj: Any, accessor: Any = None, **kwargs: Any) -> Any:
        units, places = getattr(obj, self.source), getattr(obj, self.decimals)
        return None if units is None or places is None else signed_decimal(units, places)


class BaseUnits(ma.fields.String):
    """Base units in ``source`` as an integer string (null when unknown)."""

    def __init__(self, source: str, **kwargs: Any) -> None:
        super().__init__(allow_none=True, **kwargs)
        self.source = source

    def serialize(self, attr: str, obj: Any, accessor: Any = None, **kwargs: Any) -> Any:
        units = getattr(obj, self.source)
        return None if units is None else str(units)
