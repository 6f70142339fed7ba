"""deploy/ checked without Docker or systemd running: every file parses, names the
gateway's real commands, and sets only settings the gateway knows.

Docker cannot run here, so the Compose file is checked by structure: its services, their
commands, restart policies, replicas and order; every variable it substitutes defined in
.env.example; every GATEWAY_* key it or an env file sets (commented examples included)
accepted by gateway/core/config.py or the chain's driver. Each command is then run as far
as it can be without the services: ``gunicorn --check-config`` loads the app with the
deployment's settings, the ``gateway`` commands answer ``--help``. The systemd units go
through ``systemd-analyze verify`` (with /opt/gateway/bin pointed at this virtualenv).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.core import config as gateway_config
from gateway.core.chains import build_drivers

pytestmark = pytest.mark.scale

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNITS = DEPLOY / "systemd"
BIN = Path(sys.executable).parent
EXAMPLE_CONFIG = ROOT / "config.example.toml"

GATEWAY_SERVICES = {"migrate", "web", "watch", "worker"}
APP = "gateway.web.app:create_app()"
# what each process runs, after the program's name
COMMANDS = {
    "migrate": ["gateway", "db", "upgrade"],
    "watch": ["gateway", "watch"],
    "worker": ["gateway", "worker"],
}
# variables that are not gateway settings, and who reads them
OTHER_VARIABLES = {
    "WEB_CONCURRENCY": "gunicorn's default --workers",
    "PROMETHEUS_MULTIPROC_DIR": "gateway.core.metrics",
}


# -- helpers ------------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def env_file(path: Path, commented: bool = False) -> dict[str, str]:
    """KEY=VALUE lines of an env file; with ``commented``, also the commented examples."""
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if commented and re.match(r"#\s*[A-Z][A-Z0-9_]*=", line):
            line = line.lstrip("#").strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip()
    return values


def interpolate(value: str, variables: dict[str, str]) -> str:
    """Compose's ${NAME}, ${NAME:-default} and ${NAME:?message}; every NAME must be set."""

    def substitute(match: re.Match) -> str:
        name = match.group(1)
        assert name in variables, f"${{{name}}} is not defined in deploy/.env.example"
        return variables[name] or (match.group(3) or "" if match.group(2) == ":-" else "")

    return re.sub(r"\$\{([A-Z_][A-Z0-9_]*)(?:(:[-?])([^}]*))?\}", substitute, value)


def service_environment(name: str, commented: bool = False) -> dict[str, str]:
    """The environment Compose gives a service: its env files, then ``environment``."""
    variables = env_file(DEPLOY / ".env.example")
    service = compose()["services"][name]
    env: dict[str, str] = {}
    for file in service.get("env_file", []):
        env.update(env_file(DEPLOY / f"{file}.example", commented))
    for key, value in (service.get("environment") or {}).items():
        env[key] = interpolate(str(value), variables)
    return env


def check_settings(env: dict[str, str]) -> dict[str, Any]:
    """Load the configuration from ``env`` as the processes would; every key must be known."""
    for key in env:
        if key.startswith("GATEWAY_") and "__" not in key:
            defaults = gateway_config.validate({})
            assert key in {"GATEWAY_CONFIG", defaults["wallets"]["passphrase_env"]}, key
        elif not key.startswith("GATEWAY_"):
            assert key in OTHER_VARIABLES, f"{key}: read by nothing of the gateway"
    environ = {**env, "GATEWAY_CONFIG": str(EXAMPLE_CONFIG)}
    settings = gateway_config.load(environ=environ)  # ConfigError names an unknown key
    # chains are validated by their drivers: build every chain the environment names
    named = {key.split("__")[1].lower() for key in env if key.startswith("GATEWAY_CHAINS__")}
    chains = {
        name: {**chain, "enabled": True}
        for name, chain in settings["chains"].items()
        if name in named
    }
    assert named <= set(chains), f"chains not in config.example.toml: {named - set(chains)}"
    build_drivers(chains)
    return settings


def process_environment(env: dict[str, str]) -> dict[str, str]:
    """This machine's environment without GATEWAY_*, plus ``env`` and the example config."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "PROMETHEUS"))}
    base.pop("WEB_CONCURRENCY", None)
    merged = {**base, **env, "GATEWAY_CONFIG": str(EXAMPLE_CONFIG)}
    merged["PATH"] = f"{BIN}{os.pathsep}{merged.get('PATH', '')}"
    if "PROMETHEUS_MULTIPROC_DIR" in merged:
        merged.pop("PROMETHEUS_MULTIPROC_DIR")  # a tmpfs in the container
    return merged


def run(command: list[str], env: dict[str, str]) -> None:
    """Run a deployment command in its check mode; it must succeed."""
    program = shutil.which(command[0], path=env["PATH"])
    assert program, f"{command[0]}: no such program"
    result = subprocess.run(
        [program, *command[1:]],
        env=env,
        cwd="/",  # the installed package, not this checkout's modules by accident
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"{shlex.join(command)}:\n{result.stdout}{result.stderr}"


def check_command(command: list[str], env: dict[str, str]) -> None:
    """gunicorn loads the app with these options and settings; a gateway command exists."""
    if command[0] == "gunicorn":
        assert command[-1] == APP
        assert "--config=python:gateway.web.gunicorn" in command
        assert "--worker-class=gthread" in command
        run(["gunicorn", "--check-config", *command[1:]], env)
    else:
        assert command[0] == "gateway"
        assert command[1:] in (c[1:] for c in COMMANDS.values()), command
        run([*command, "--help"], env)


# -- Compose ------------------------------------------------------------------------------


def test_compose_has_the_services_in_order():
    services = compose()["services"]
    assert set(services) == GATEWAY_SERVICES | {"postgres", "redis", "caddy"}
    for name in GATEWAY_SERVICES:
        service = services[name]
        assert service["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
        assert (DEPLOY / ".." / service["build"]["dockerfile"]).exists()
        assert service["image"] == "usdt-gateway:latest"
        assert "./config.toml:/etc/gateway/config.toml:ro" in service["volumes"]
        if name in COMMANDS:
            assert service["command"] == COMMANDS[name]
        # migrations once, before any new code
        if name != "migrate":
            assert service["depends_on"]["migrate"] == {
                "condition": "service_completed_successfully"
            }
            assert service["restart"] == "unless-stopped"
    assert services["migrate"]["restart"] == "no"
    assert services["watch"]["deploy"]["replicas"] == 2  # one active, one hot standby
    assert services["worker"]["deploy"]["replicas"] == 3
    # the hot wallets' passphrase only where hot wallets are created and signed
    assert "wallet.env" in services["web"]["env_file"]
    assert "wallet.env" in services["watch"]["env_file"]
    assert "wallet.env" not in services["worker"]["env_file"]
    assert "wallet.env" not in services["migrate"]["env_file"]
    # only Caddy is reachable from outside
    assert {n for n, s in services.items() if "ports" in s} == {"caddy"}
    assert {"80:80", "443:443"} <= set(services["caddy"]["ports"])
    assert services["redis"]["command"][:5] == ["redis-server", "--save", "", "--appendonly", "no"]
    for file in {f for s in services.values() for f in s.get("env_file", [])}:
        assert (DEPLOY / f"{file}.example").exists(), file
    for volume in services["caddy"]["volumes"]:
        source = volume.split(":")[0]
        if source.startswith("./"):
            assert (DEPLOY / source).exists(), source


@pytest.mark.parametrize("service", sorted(GATEWAY_SERVICES))
def test_compose_sets_only_real_settings(service):
    settings = check_settings(service_environment(service, commented=True))
    server = settings["server"]
    assert server["production"] is True
    assert server["base_url"] == "https://pay.example.com"
    assert server["trusted_proxies"] == 1  # Caddy
    assert settings["database"]["url"].startswith("postgresql+psycopg://gateway:")
    assert settings["database"]["url"].endswith("@postgres:5432/gateway")
    assert settings["redis"]["url"] == "redis://redis:6379/0"


@pytest.mark.parametrize("service", sorted(GATEWAY_SERVICES))
def test_compose_commands_start_with_the_deployment_settings(service):
    command = compose()["services"][service]["command"]
    check_command(command, process_environment(service_environment(service)))


def test_compose_web_is_what_caddy_and_the_healthcheck_reach():
    web = compose()["services"]["web"]
    assert "--bind=0.0.0.0:8000" in web["command"]
    assert "http://127.0.0.1:8000/healthz" in web["healthcheck"]["test"][-1]
    caddyfile = (DEPLOY / "Caddyfile").read_text()
    assert re.search(r"^\{\$DOMAIN\} \{", caddyfile, re.M)
    assert re.search(r"dynamic a \{\s*name web\s*port 8000", caddyfile)
    assert "email {$ACME_EMAIL}" in caddyfile
    caddy = compose()["services"]["caddy"]["environment"]
    assert {"DOMAIN", "ACME_EMAIL"} <= set(caddy)


def test_caddyfile_adapts_when_caddy_is_installed(tmp_path):
    caddy = shutil.which("caddy")
    if caddy is None:
        pytest.skip("caddy is not installed (the Caddyfile's structure is checked above)")
    result = subprocess.run(
        [caddy, "adapt", "--config", str(DEPLOY / "Caddyfile"), "--adapter", "caddyfile"],
        env={**os.environ, "DOMAIN": "pay.example.com", "ACME_EMAIL": "ops@example.com"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


# -- the image ----------------------------------------------------------------------------


def test_dockerfile_copies_what_exists_and_runs_unprivileged():
    lines = (DEPLOY / "Dockerfile").read_text().splitlines()
    stages = [line.split()[1] for line in lines if line.startswith("FROM ")]
    assert stages and all(s.startswith("python:3.11") for s in stages)
    ignored = {
        line.strip().rstrip("/")
        for line in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for line in lines:
        if line.startswith("COPY ") and "--from=" not in line:
            *sources, _ = line.split()[1:]
            for source in sources:
                assert (ROOT / source).exists(), source
                assert source not in ignored, f"{source} is copied but .dockerignore'd"
    text = "\n".join(lines)
    assert "python -m gateway.web.catalogs compile" in text  # the pages' translations
    assert [line for line in lines if line.startswith("USER ")][-1] == "USER gateway"


# -- systemd ------------------------------------------------------------------------------


def unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """A unit file as section -> key -> values (systemd keys may repeat)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        assert current is not None, f"{path.name}: {line!r} outside a section"
        key, _, value = line.partition("=")
        current.setdefault(key, []).append(value)
    return sections


SERVICES = {
    "gateway-web.service": "web",
    "gateway-watch.service": "watch",
    "gateway-worker@.service": "worker",
    "gateway-migrate.service": "migrate",
}


def test_systemd_units_run_the_gateway_as_its_own_user_and_come_back():
    for name, role in SERVICES.items():
        service = unit(UNITS / name)["Service"]
        assert service["User"] == ["gateway"], name
        assert service["EnvironmentFile"][0] == "/etc/gateway/gateway.env", name
        wallet = "-/etc/gateway/wallet.env" in service["EnvironmentFile"]
        assert wallet == (role in {"web", "watch"}), name
        command = shlex.split(service["ExecStart"][0])
        assert command[0].startswith("/opt/gateway/bin/"), name
        if role == "migrate":
            assert service["Type"] == ["oneshot"]
            assert "Install" not in unit(UNITS / name)  # started on purpose, once a release
            continue
        # always: a watcher can also end with status 0, and must come back
        assert service["Restart"] == ["always"], name
        assert unit(UNITS / name)["Unit"]["StartLimitIntervalSec"] == ["0"], name
        assert unit(UNITS / name)["Install"]["WantedBy"] == ["gateway.target"], name
    target = unit(UNITS / "gateway.target")["Unit"]["Wants"]
    wanted = {w for line in target for w in line.split()}
    assert {"gateway-web.service", "gateway-watch.service", "gateway-worker@1.service"} <= wanted


def test_systemd_units_commands_are_the_compose_ones():
    services = compose()["services"]
    for name, role in SERVICES.items():
        command = shlex.split(unit(UNITS / name)["Service"]["ExecStart"][0])
        command[0] = Path(command[0]).name
        expected = services[role]["command"]
        if role == "web":
            # the same, but on the loopback: the proxy runs on the host
            expected = [a.replace("0.0.0.0:8000", "127.0.0.1:8000") for a in expected]
        assert command == expected, name


def test_systemd_environment_files_set_only_real_settings():
    env = env_file(UNITS / "gateway.env.example", commented=True)
    env.update(env_file(UNITS / "wallet.env.example", commented=True))
    settings = check_settings({k: v for k, v in env.items() if k != "GATEWAY_CONFIG"})
    assert env["GATEWAY_CONFIG"] == "/etc/gateway/config.toml"
    assert settings["server"]["trusted_proxies"] == 1
    assert settings["server"]["production"] is True


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_systemd_commands_start_with_the_example_settings(name):
    env = env_file(UNITS / "gateway.env.example")
    service = unit(UNITS / name)["Service"]
    for line in service.get("Environment", []):
        key, _, value = line.partition("=")
        env[key] = value
    command = shlex.split(service["ExecStart"][0])
    command[0] = Path(command[0]).name
    check_command(command, process_environment(env))


def test_systemd_analyze_verifies_the_units(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (the units are parsed above)")
    # the units expect the gateway installed in /opt/gateway; here it is this virtualenv
    for path in UNITS.iterdir():
        if path.suffix in {".service", ".target"}:
            text = path.read_text().replace("/opt/gateway/bin/", f"{BIN}/")
            (tmp_path / path.name).write_text(text)
    files = sorted(str(p) for p in tmp_path.iterdir())
    result = subprocess.run(
        [analyze, "verify", *files],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # a unit it cannot parse, a key it does not know, a command that is not there: all said
    assert result.returncode == 0, result.stderr
    ours = [line for line in result.stderr.splitlines() if "gateway" in line]
    assert ours == [], result.stderr


# -- Procfile -----------------------------------------------------------------------------


def test_procfile_runs_the_gateways_commands():
    entries = {}
    for line in (DEPLOY / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, command = line.partition(":")
            entries[name.strip()] = command.strip()
    assert set(entries) == {"release", "web", "watch", "worker"}
    services = compose()["services"]
    env = process_environment(service_environment("web"))
    for name, command in entries.items():
        # Procfile lines run in a shell: $PORT as the platform sets it
        words = shlex.split(command.replace("${PORT:-8000}", "5000"))
        role = "migrate" if name == "release" else name
        if role == "web":
            assert "--bind=0.0.0.0:5000" in words
            assert [w for w in words if not w.startswith("--bind")] == [
                w for w in services["web"]["command"] if not w.startswith("--bind")
            ]
        else:
            assert words == services[role]["command"], name
        check_command(words, env)
