"""Fixtures of the conformance suite: one harness per registered driver, and its driver."""

from __future__ import annotations

import pytest

from plugins.base import ChainDriver
from tests.drivers.harnesses import HARNESSES, DriverHarness


@pytest.fixture(params=sorted(HARNESSES))
def harness(request: pytest.FixtureRequest) -> DriverHarness:
    """A harness for each driver, built from the fixtures it names."""
    cls = HARNESSES[request.param]
    reason = cls.known_failures.get(request.node.originalname)
    if reason:
        request.node.add_marker(pytest.mark.xfail(strict=True, reason=reason))
    return cls(**{name: request.getfixturevalue(name) for name in cls.fixtures})


@pytest.fixture
def driver(harness: DriverHarness) -> ChainDriver:
    """The harness's driver with its default settings."""
    return harness.make_driver()
