"""Every route of the app, read from its url_map, so that no new route escapes a matrix."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from flask import Flask

_VARIABLE = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
# routes whose methods are only those Flask adds itself
_IMPLICIT = {"HEAD", "OPTIONS"}


@dataclass(frozen=True)
class Route:
    """One method of one URL rule, with the view behind it."""

    rule: str
    method: str
    endpoint: str
    arguments: tuple[str, ...]

    def url(self, **values: str) -> str:
        """The rule with each ``<converter:name>`` replaced by ``values[name]``."""
        return _VARIABLE.sub(lambda match: values[match.group(1)], self.rule)

    def __str__(self) -> str:
        return f"{self.method} {self.rule}"


def routes(app: Flask) -> Iterator[Route]:
    """Each (rule, method) pair the app answers, in a stable order."""
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        arguments = tuple(_VARIABLE.findall(rule.rule))
        for method in sorted((rule.methods or set()) - _IMPLICIT):
            yield Route(rule.rule, method, rule.endpoint, arguments)
