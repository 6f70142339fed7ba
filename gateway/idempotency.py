"""Idempotency-Key: the same key and body replay the first answer; another body is refused."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from flask import request
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.errors import fail
from gateway.models import IdempotencyKey

MAX_KEY_LENGTH = 255


def _fingerprint() -> str:
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.path}\n".encode())
    digest.update(request.get_data())
    return digest.hexdigest()


def _replay(stored: IdempotencyKey, fingerprint: str) -> tuple[dict[str, Any], int]:
    if stored.request_hash != fingerprint:
        fail(
            422,
            "idempotency_key_reused",
            "this Idempotency-Key was already used with a different request",
        )
    return stored.response, stored.status_code


def run_once(
    session: Session, merchant_id: str, create: Callable[[], tuple[dict[str, Any], int]]
) -> tuple[dict[str, Any], int]:
    """Run ``create`` (which must not commit) at most once per Idempotency-Key, then commit."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        result = create()
        session.commit()
        return result
    if not key.strip() or len(key) > MAX_KEY_LENGTH:
        fail(400, "invalid_idempotency_key", f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} chars")
    fingerprint = _fingerprint()
    stored = session.get(IdempotencyKey, (merchant_id, key))
    if stored is not None:
        return _replay(stored, fingerprint)
    body, status = create()
    session.add(
        IdempotencyKey(
            merchant_id=merchant_id,
            key=key,
            request_hash=fingerprint,
            status_code=status,
            response=body,
        )
    )
    try:
        session.commit()
    except IntegrityError:
        # a concurrent request with the same key won the race: undo ours, answer with theirs
        session.rollback()
        stored = session.get(IdempotencyKey, (merchant_id, key))
        if stored is None:
            raise
        return _replay(stored, fingerprint)
    return body, status
