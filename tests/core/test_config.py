"""Configuration: TOML file, GATEWAY_* overrides, and one clear line for a bad key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.core import config
from gateway.core.config import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_without_a_file():
    loaded = config.load(environ={})
    assert loaded["database"]["url"] == "sqlite:///instance/gateway.db"
    assert loaded["orders"]["default_expiry_minutes"] == 60
    assert loaded["chains"] == {}


def test_example_config_is_valid_and_builds_every_driver():
    from gateway.core.chains import build_drivers

    loaded = config.load(ROOT / "config.example.toml", environ={})
    chains = {name: {**c, "enabled": True} for name, c in loaded["chains"].items()}
    drivers = build_drivers(chains)
    assert {"ethereum", "bsc", "polygon", "arbitrum", "tron", "devnet"} <= set(drivers)
    assert drivers["bsc"].confirmations == 15


def test_environment_overrides_the_file(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(
        '[database]\nurl = "sqlite:///a.db"\n[chains.devnet]\ndriver = "evm"\n'
        'rpc_url = "http://127.0.0.1:1"\nchain_id = 1\n'
        'token = "0x5FbDB2315678afecb367f032d93F642f64180aa3"\n'
    )
    loaded = config.load(
        path,
        environ={
            "GATEWAY_DATABASE__URL": "sqlite:///b.db",
            "GATEWAY_WATCHER__POLL_INTERVAL": "0.5",
            "GATEWAY_CHAINS__DEVNET__CONFIRMATIONS": "4",
            "GATEWAY_CHAINS__DEVNET__ENABLED": "false",
            "GATEWAY_CHAINS__DEVNET__TOKEN": "0x0000000000000000000000000000000000000001",
        },
    )
    assert loaded["database"]["url"] == "sqlite:///b.db"
    assert loaded["watcher"]["poll_interval"] == 0.5
    devnet = loaded["chains"]["devnet"]
    assert (devnet["confirmations"], devnet["enabled"]) == (4, False)
    assert devnet["token"] == "0x0000000000000000000000000000000000000001"


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ("[database]\nurll = 'x'\n", "database.urll"),
        ("[nosuch]\na = 1\n", "[nosuch]"),
        ("[orders]\ndefault_expiry_minutes = 0\n", "orders.default_expiry_minutes"),
        ("[orders]\ndefault_expiry_minutes = 'soon'\n", "orders.default_expiry_minutes"),
        ("[server]\nlog_format = 'xml'\n", "server.log_format"),
        ("[webhooks]\nallow_private_targets = 'maybe'\n", "webhooks.allow_private_targets"),
        ("[chains.x]\nenabled = true\n", "chains.x.driver"),
        ("[database\n", "line 1"),
    ],
)
def test_bad_settings_name_the_key(tmp_path, toml, key):
    path = tmp_path / "c.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError, match=key.replace("[", r"\[").replace(".", r"\.")):
        config.load(path, environ={})


def test_a_driver_names_its_bad_setting():
    from gateway.core.chains import build_drivers

    chains = config.validate(
        {
            "chains": {
                "eth": {
                    "driver": "evm",
                    "rpc_url": "http://127.0.0.1:1",
                    "chain_id": 1,
                    "token": "0x5FbDB2315678afecb367f032d93F642f64180aa3",
                    "confirmations": "many",
                }
            }
        }
    )
    with pytest.raises(ConfigError, match=r"chains\.eth\.confirmations"):
        build_drivers(chains["chains"])
    with pytest.raises(ConfigError, match=r"chains\.eth\.driver.*unknown driver 'nope'"):
        build_drivers({"eth": {"driver": "nope"}})


def test_the_command_stops_with_one_line_naming_the_key(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(
        "[chains.devnet]\ndriver = 'evm'\nrpc_url = 'http://127.0.0.1:1'\n"
        "chain_id = 1\ntoken = '0x5FbDB2315678afecb367f032d93F642f64180aa3'\n"
        "confirmatons = 3\n"
    )
    env = {**os.environ, "GATEWAY_CONFIG": str(path)}
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "db", "upgrade"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert lines == ["Error: configuration: chains.devnet.confirmatons: unknown setting"]


@pytest.mark.parametrize("command", [["worker", "--burst"], ["watch"], ["db", "upgrade"]])
def test_every_process_refuses_a_bad_retry_schedule_in_one_line(tmp_path, command):
    env = {**os.environ, "GATEWAY_WEBHOOKS__RETRY_SCHEDULE": "1x"}
    env.pop("GATEWAY_CONFIG", None)
    result = subprocess.run(
        [sys.executable, "-m", "gateway", *command],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "Error: configuration: webhooks.retry_schedule: bad delay '1x' (use e.g. 5s, 30m, 2h)"
    ]
