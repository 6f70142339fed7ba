"""A bounded schemathesis run over the OpenAPI document against the live app, all checks.

Every operation of the document, the OAuth token endpoint included, gets up to EXAMPLES
generated requests (a fixed seed: the same requests every run); the run fails on any
server error or any answer that the document does not describe. Run it alone with
``pytest -m fuzz`` (``-m "not fuzz"`` leaves it out); each run prints its figures
(operations, requests, failures), and writes them to the file FUZZ_FIGURES names, if any.
"""

from __future__ import annotations

import base64
import json
import os
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.config import SchemathesisConfig

from gateway.core.oauth import tokens
from gateway.web import db

EXAMPLES = 50
# every check, with the statuses the document promises for schema-valid input beside 2xx:
# 400 is a NUL character (which no database holds) or an OAuth refusal (RFC 6749 says 400),
# 422 is a valid JSON shape with a wrong meaning (an unknown cursor, an amount of 0), 409 a
# state that forbids it, 503 a node or hot wallets unavailable
CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": 20261202,
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "400", "401", "403", "404", "409", "422", "429", "503"]
            }
        },
    }
)
FIGURES: Counter = Counter()

pytestmark = pytest.mark.fuzz


@pytest.fixture
def chain_settings(devnet, tron_node):
    """Orders need the devnet; the TRON node is there too, as in the other API tests."""
    from tests.conftest import both_chains

    return both_chains(devnet, tron_node)


@pytest.fixture
def app_config(app_config):
    """No rate limit: hypothesis sends hundreds of requests a minute."""
    app_config["server"]["rate_limit_per_minute"] = 0
    return app_config


@pytest.fixture
def credentials(app, merchant):
    """An API key with every scope, and an OAuth client's HTTP Basic header."""
    with app.app_context(), db.transaction() as session:
        client, secret = tokens.create_client(session, merchant.id, ["orders:read"])
    basic = base64.b64encode(f"{client.id}:{secret}".encode()).decode()
    return {"key": merchant.headers, "client": {"Authorization": f"Basic {basic}"}}


def test_every_operation_answers_as_documented(app, credentials):
    fuzzed = schemathesis.openapi.from_wsgi("/api/openapi.json", app, config=CONFIG)
    every = [result.ok() for result in fuzzed.get_all_operations()]
    # an event stream answers for as long as the client listens: generated requests would
    # each hold the run; a WebSocket needs an upgrade HTTP cases cannot make; their own
    # tests (tests/events) cover both
    streams = {op.label for op in every if _streams(op)}
    operations = [op for op in every if op.label not in streams]
    failures: dict[str, str] = {}
    figures = Counter()
    for operation in operations:
        headers = credentials["client"] if operation.path == "/oauth/token" else credentials["key"]
        try:
            _fuzz(operation, headers, figures)()
        except (Exception, BaseExceptionGroup) as exc:  # all run; the failures listed at the end
            failures[operation.label] = str(exc)[:3000]
    figures.update(operations=len(operations), failures=len(failures))
    FIGURES.update(figures)
    print(f"schemathesis: {dict(figures)}")
    assert "POST /oauth/token" in {operation.label for operation in operations}
    known = {"GET /api/v1/events/stream", "GET /api/v1/events/ws"}
    assert streams <= known, "a new stream: say how it is fuzzed"
    assert failures == {}, "\n\n".join(f"{k}: {v}" for k, v in failures.items())


def _streams(operation) -> bool:
    responses = operation.definition.raw.get("responses", {})
    upgrades = "101" in responses
    return upgrades or any("text/event-stream" in r.get("content", {}) for r in responses.values())


def _fuzz(operation, headers: dict[str, str], figures: Counter):
    """A hypothesis test of one operation: EXAMPLES requests, every check on each answer."""

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,  # a fixed seed: the same requests on every run
        deadline=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: a failure shows as found
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def run(case):
        figures["requests"] += 1
        case.call_and_validate(headers=headers)

    return run


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    path = os.environ.get("FUZZ_FIGURES")
    if path:
        with open(path, "w") as out:
            json.dump(dict(FIGURES), out)
