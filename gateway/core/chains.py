"""The configured networks: one driver per enabled chain, built through the plugin registry."""

from __future__ import annotations

from gateway.core.config import ConfigError
from plugins.base import ChainDriver, DriverConfigError, Registry, default_registry


def build_drivers(
    chains: dict[str, dict], registry: Registry | None = None
) -> dict[str, ChainDriver]:
    """Build a driver for every enabled chain; ConfigError names a bad setting."""
    registry = registry or default_registry()
    drivers = {}
    for name, settings in chains.items():
        if not settings.get("enabled", True):
            continue
        try:
            drivers[name] = registry.create(settings["driver"], name, settings)
        except DriverConfigError as exc:
            raise ConfigError(f"chains.{name}.{exc}") from None
    return drivers
