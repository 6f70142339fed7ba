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

from gateway.core.durations import parse_delays

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
    from gateway.core.money import MAX_DECIMALS, to_base_units

    text = _string(value)
    to_base_units(text, MAX_DECIMALS)  # ValueError says what is wrong
    return text


def _delays(value: Any) -> str:
    text = _string(value)
    parse_delays(text)  # ValueError says which step is wrong
    return text


def _optional_amount(value: Any) -> str:
    return "" if value in ("", None) else _amount(value)


def _units_by_chain(value: Any) -> dict[str, int]:
    if not isinstance(value, Mapping):
        raise ValueError("expected a table of chain = base units")
    return {str(chain): _non_negative_int(units) for chain, units in value.items()}


# block explorers of the well-known chains; [dashboard.explorers] adds or replaces some
EXPLORERS = {
    "ethereum": "https://etherscan.io/tx/{tx}",
    "bsc": "https://bscscan.com/tx/{tx}",
    "polygon": "https://polygonscan.com/tx/{tx}",
    "arbitrum": "https://arbiscan.io/tx/{tx}",
    "tron": "https://tronscan.org/#/transaction/{tx}",
    "nile": "https://nile.tronscan.org/#/transaction/{tx}",
}


def _explorers(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise ValueError('expected a table of chain = "https://.../tx/{tx}"')
    templates = {}
    for chain, template in value.items():
        template = _string(template)
        if "{tx}" not in template or not template.startswith(("https://", "http://")):
            raise ValueError(f"{chain}: expected an http(s) URL with {{tx}} in it")
        templates[str(chain)] = template
    return {**EXPLORERS, **templates}


def _names(value: Any) -> list[str]:
    if isinstance(value, str):  # from the environment: comma-separated
        value = [part for part in value.split(",") if part.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("expected a list of names")
    return [v.strip() for v in value]


def _networks(value: Any) -> list[str]:
    import ipaddress

    return [str(ipaddress.ip_network(name, strict=False)) for name in _names(value)]


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
        # production: HSTS, secure cookies, and an https base_url and a secret_key required
        "production": (_boolean, False),
        "allow_http_base_url": (_boolean, False),
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
        "retry_schedule": (_delays, "5s 5m 30m 2h 5h 10h 14h 20h 24h"),
        "dispatch_interval": (_positive_float, 1.0),
    },
    "events": {
        # the events API and stream show this many days of events; gateway worker purges
        # older ones (and their delivery logs) unless a delivery is still pending. 0: keep
        "retention_days": (_non_negative_int, 30),
        # a stream sends a comment line this often, so proxies and clients see it alive
        "heartbeat_seconds": (_positive_float, 15.0),
        # a stream ends after this long; clients reconnect with Last-Event-ID
        "stream_max_seconds": (_positive_int, 300),
        # open streams at once per API key (each holds a web worker thread), and per order
        # on the public checkout page
        "streams_per_key": (_positive_int, 5),
        "streams_per_order": (_positive_int, 3),
    },
    "wallets": {
        # the name of the environment variable holding the hot wallets' passphrase, or a
        # file that holds it; never the passphrase itself
        "passphrase_env": (_string, "GATEWAY_WALLET_PASSPHRASE"),
        "passphrase_file": (_string, ""),
        "kdf_iterations": (_positive_int, 2**18),
        # native currency (wei, sun) below which payout_wallet.low_gas goes out, per chain
        "gas_floor": (_units_by_chain, {}),
    },
    "payouts": {
        "approval_threshold": (_amount, "0"),
        "daily_limit": (_optional_amount, ""),
        "allowlist_only": (_boolean, False),
        "allowlist_cooldown_minutes": (_non_negative_int, 24 * 60),
        # an EVM payout unmined this long is sent again with higher fees (same nonce)
        "stuck_after_seconds": (_positive_int, 600),
        "fee_bump_percent": (_positive_int, 25),
    },
    "dashboard": {
        # transaction links per chain, added to EXPLORERS; {tx} is the transaction hash
        "explorers": (_explorers, dict(EXPLORERS)),
        # chains where the dashboard offers "create a test order" (devnets, testnets)
        "test_order_chains": (_names, ["devnet"]),
        "session_hours": (_positive_int, 12),
        "idle_minutes": (_positive_int, 60),
        "invite_hours": (_positive_int, 72),
        "reset_minutes": (_positive_int, 60),
    },
    "ops": {
        # /metrics (Prometheus); /readyz details. Both answer callers from allow_from or
        # with "Authorization: Bearer <token>"; /readyz tells anyone else only its status
        "metrics": (_boolean, False),
        "allow_from": (_networks, ["127.0.0.1/32", "::1/128"]),
        "token": (_string, ""),
        # gateway watch and gateway worker serve their own /metrics on this port (0: none);
        # on one host, PROMETHEUS_MULTIPROC_DIR lets the web's /metrics show them all
        "metrics_port": (_non_negative_int, 0),
        # /readyz fails past these
        "max_lag_blocks": (_non_negative_int, 50),
        "max_step_age_seconds": (_positive_int, 120),
        "max_due_delivery_seconds": (_positive_int, 300),
    },
    "quotas": {
        # per merchant per UTC day; 0 = no quota
        "orders_per_day": (_non_negative_int, 100_000),
        "payouts_per_day": (_non_negative_int, 1_000),
        "webhook_endpoints_per_day": (_non_negative_int, 100),
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
    _check_https(config["server"])
    return config


def _check_https(server: Mapping[str, Any]) -> None:
    """In production the public URL is https and sessions are signed, unless told otherwise."""
    if not server["production"]:
        return
    if not server["base_url"].startswith("https://") and not server["allow_http_base_url"]:
        raise ConfigError(
            "server.base_url: must be https:// when server.production is on"
            " (or set server.allow_http_base_url = true)"
        )
    if not server["secret_key"]:
        raise ConfigError("server.secret_key: required when server.production is on")


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
