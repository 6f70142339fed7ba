"""Conditional GETs: an ETag from the answer's content, 304 on a matching If-None-Match."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from flask import Response, jsonify, request


def conditional(body: dict[str, Any], ignore: Iterable[str] = ()) -> Response:
    """``body`` as JSON with a strong ETag, or an empty 304 if the caller has it already.

    ``ignore`` names fields left out of the ETag: ones that change with the clock alone
    (a countdown), which would make every answer new.
    """
    skipped = set(ignore)
    stable = {k: v for k, v in body.items() if k not in skipped}
    digest = hashlib.sha256(json.dumps(stable, sort_keys=True, default=str).encode())
    etag = digest.hexdigest()[:32]
    fresh = request.if_none_match.contains(etag)
    response = Response(status=304) if fresh else jsonify(body)
    response.set_etag(etag)
    return response
