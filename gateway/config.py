"""Settings: config.toml (tomllib) plus GATEWAY_* environment overrides, validated at start.

Environment overrides name the path with double underscores:
``GATEWAY_DATABASE__URL``, ``GATEWAY_CHAINS__DEVNET__TOKEN``. ``GATEWAY_CONFIG`` names
the file. Any unknown key or bad value raises ConfigError naming the key.
"""

from __future__ import annotations

import copy
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

ENV_PREFIX = "GATEWAY_"


class ConfigError(ValueError):
    """A setting is unknown or invalid; the message names the key."""


def _positive_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("expected a whole number")
    number = int(value)
    if number <= 0:
        raise ValueError("must be greater than zero")
    return number


def _non_negative_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("expected a whole number")
    number = int(value)
    if number < 0:
        raise ValueError("must not be negative")
    return number


def _positive_float(value: Any) -> float:
    number = float(value)
    if number <= 0:
        raise ValueError("must be greater than zero")
    return number


def _string(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # an environment override of a numeric string
    if not isinstance(value, str):
        raise ValueError("expected a string")
    return value


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {"1", "true", "yes", "on"}:
        return True
    if isinstance(value, str) and value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ValueError("expected true or false")


def _amount(value: Any) -> str:
    from gateway.money import MAX_DECIMALS, to_base_units

    text = _string(value)
    to_base_units(text, MAX_DECIMALS)  # ValueError says what is wrong
    return text


def _choice(*options: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value not in options:
            raise ValueError(f"expected one of {', '.join(options)}")
        return value

    return check


Field = tuple[Callable[[Any], Any], Any]

# section -> key -> (parser, default). Chains are validated by their drivers.
SCHEMA: dict[str, dict[str, Field]] = {
    "server": {
        "secret_key": (_string, ""),
        "base_url": (_string, "http://127.0.0.1:5000"),
        "log_format": (_choice("text", "json"), "text"),
        "max_body_bytes": (_positive_int, 64 * 1024),
        "trusted_proxies": (_non_negative_int, 0),
        "rate_limit_per_minute": (_non_negative_int, 600),
    },
    "database": {
        "url": (_string, "sqlite:///instance/gateway.db"),
    },
    "redis": {
        "url": (_string, "redis://127.0.0.1:6379/0"),
    },
    "orders": {
        "default_expiry_minutes": (_positive_int, 60),
        "max_expiry_minutes": (_positive_int, 7 * 24 * 60),
        "max_amount": (_amount, "1000000000"),
        "max_metadata_bytes": (_positive_int, 4096),
        "late_grace_minutes": (_non_negative_int, 24 * 60),
    },
    "watcher": {
        "poll_interval": (_positive_float, 2.0),
        "lock_ttl": (_positive_int, 30),
    },
    "webhooks": {
        "timeout": (_positive_float, 10.0),
        "allow_private_targets": (_boolean, False),
        "queue": (_string, "webhooks"),
        "rotation_overlap_hours": (_non_negative_int, 24),
        "retry_schedule": (_string, "5s 5m 30m 2h 5h 10h 14h 20h 24h"),
        "dispatch_interval": (_positive_float, 1.0),
    },
}

CHAIN_COMMON: dict[str, Field] = {
    "driver": (_string, None),
    "enabled": (_boolean, True),
}


def load(
    path: str | os.PathLike[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Read, merge and validate the configuration; raise ConfigError naming a bad key."""
    environ = os.environ if environ is None else environ
    raw: dict[str, Any] = {}
    path = path or environ.get(ENV_PREFIX + "CONFIG")
    if path:
        try:
            raw = tomllib.loads(Path(path).read_text())
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: {exc}") from None
    _merge(raw, _from_environ(environ))
    _merge(raw, copy.deepcopy(dict(overrides or {})))
    return validate(raw)


def validate(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Check every key and value against SCHEMA and fill in defaults."""
    config: dict[str, Any] = {}
    for section in raw:
        if section not in SCHEMA and section != "chains":
            raise ConfigError(f"unknown section [{section}]")
    for section, fields in SCHEMA.items():
        given = raw.get(section, {})
        if not isinstance(given, Mapping):
            raise ConfigError(f"[{section}] must be a table")
        config[section] = _validate_fields(section, fields, given)
    config["chains"] = _validate_chains(raw.get("chains", {}))
    return config


def _validate_fields(where: str, fields: dict[str, Field], given: Mapping[str, Any]) -> dict:
    unknown = sorted(set(given) - set(fields))
    if unknown:
        raise ConfigError(f"{where}.{unknown[0]}: unknown setting")
    values = {}
    for key, (parse, default) in fields.items():
        if key not in given:
            values[key] = default
            continue
        try:
            values[key] = parse(given[key])
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{where}.{key}: {exc}") from None
    return values


def _validate_chains(chains: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(chains, Mapping):
        raise ConfigError("[chains] must be a table")
    validated = {}
    for name, settings in chains.items():
        if not isinstance(settings, Mapping):
            raise ConfigError(f"chains.{name} must be a table")
        common = {k: settings[k] for k in CHAIN_COMMON if k in settings}
        values = _validate_fields(f"chains.{name}", CHAIN_COMMON, common)
        if not values["driver"]:
            raise ConfigError(f"chains.{name}.driver: required")
        # the driver validates the rest when it is built
        validated[name] = {**dict(settings), **values}
    return validated


def _from_environ(environ: Mapping[str, str]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        path = [part.lower() for part in name[len(ENV_PREFIX) :].split("__")]
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = _env_value(value)
    return tree


def _env_value(text: str) -> Any:
    """Read an environment value as TOML would: whole numbers and booleans, else a string."""
    if re.fullmatch(r"-?[0-9]+", text):
        return int(text)
    if re.fullmatch(r"-?[0-9]+\.[0-9]+", text):
        return float(text)
    if text in ("true", "false"):
        return text == "true"
    return text


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
