"""Idempotency-Key: the same key and body replay the first answer; another body is refused.

First answers are kept 24 hours (gateway.core.idempotency). A secret in one (a webhook
endpoint's signing secret) is stored sealed under ``[server] secret_key``, bound to the
merchant, the key and the request, and opened only to replay it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import marshmallow as ma
import sqlalchemy as sa
from flask import Response, current_app, g, jsonify, request
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.core import idempotency
from gateway.core.models import IdempotencyKey
from gateway.core.sealing import SealBroken, Sealer
from gateway.web.errors import fail

MAX_KEY_LENGTH = 255

# Core statements on the session's connection: the row is written while an order's
# account row is locked, where the ORM's flush would cost more than the INSERT itself
_keys = IdempotencyKey.__table__
_MATCH = (_keys.c.merchant_id == sa.bindparam("merchant"), _keys.c.key == sa.bindparam("name"))
_STORED = sa.select(
    _keys.c.request_hash, _keys.c.status_code, _keys.c.response, _keys.c.created_at
).where(*_MATCH)
_FORGET = sa.delete(_keys).where(*_MATCH)
_STORE = sa.insert(_keys)


def _fingerprint() -> str:
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.path}\n".encode())
    digest.update(request.get_data())
    return digest.hexdigest()


def _stored(session: Session, merchant_id: str, key: str) -> sa.Row | None:
    params = {"merchant": merchant_id, "name": key}
    found = session.connection().execute(_STORED, params).one_or_none()
    if found is not None and idempotency.expired(found.created_at):
        # past the retention the key is a new request, whether or not the purge ran yet
        session.connection().execute(_FORGET, params)
        return None
    return found


def _sealer() -> Sealer | None:
    secret_key = current_app.config["GATEWAY"]["server"]["secret_key"]
    if not secret_key:
        return None
    if "idempotency.sealer" not in current_app.extensions:
        current_app.extensions["idempotency.sealer"] = Sealer(secret_key, "idempotency replay")
    return current_app.extensions["idempotency.sealer"]


def _context(merchant_id: str, key: str, fingerprint: str) -> str:
    return f"{merchant_id}\n{key}\n{fingerprint}"


def _seal(answer: dict[str, Any], secrets: tuple[str, ...], context: str) -> dict[str, Any]:
    """The answer to store: each secret field sealed in place (so the order is kept), or
    left out of reach (None) where no secret_key is set."""
    sealer = _sealer()
    stored = dict(answer)
    for name in secrets:
        if stored.get(name) is not None:
            stored[name] = sealer.seal(stored[name], context) if sealer else None
    return stored


def _unseal(stored: dict[str, Any], secrets: tuple[str, ...], context: str) -> dict[str, Any]:
    answer = dict(stored)
    sealer = _sealer()
    for name in secrets:
        if name not in answer:
            continue
        try:
            if sealer is None:
                raise SealBroken("no secret_key")
            answer[name] = sealer.open(answer[name], context)
        except SealBroken:
            fail(
                409,
                "idempotency_replay_unavailable",
                f"the first answer to this Idempotency-Key held a secret ({name}) that cannot"
                " be shown again (it is kept only sealed under [server] secret_key)",
            )
    return answer


def _answer(body: Any, status: int) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response


def _replay(stored: sa.Row, fingerprint: str, secrets: tuple[str, ...], context: str) -> Response:
    if stored.request_hash != fingerprint:
        fail(
            422,
            "idempotency_key_reused",
            "this Idempotency-Key was already used with a different request",
        )
    # as stored: the answer is not dumped again, so it is the first one byte for byte
    g.idempotent_replay = True  # nothing new was made: a daily quota gives its unit back
    response = stored.response
    if secrets:
        response = _unseal(response, secrets, context)
    return _answer(response, stored.status_code)


def run_once(
    session: Session,
    merchant_id: str,
    schema: ma.Schema,
    create: Callable[[], tuple[Any, int]],
    secrets: tuple[str, ...] = (),
) -> tuple[Any, int] | Response:
    """Run ``create`` (which must not commit) at most once per Idempotency-Key, then commit.

    ``create`` returns the new object and the status; ``schema`` dumps the object as the
    answer a retry with the same key replays. The answer's ``secrets`` fields are stored
    sealed.
    """
    key = request.headers.get("Idempotency-Key")
    if key is None:
        result = create()
        session.commit()
        return result
    if not key.strip() or len(key) > MAX_KEY_LENGTH:
        fail(400, "invalid_idempotency_key", f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} chars")
    fingerprint = _fingerprint()
    context = _context(merchant_id, key, fingerprint)
    stored = _stored(session, merchant_id, key)
    if stored is not None:
        return _replay(stored, fingerprint, secrets, context)
    created, status = create()
    answer = schema.dump(created)
    row = {
        "merchant_id": merchant_id,
        "key": key,
        "request_hash": fingerprint,
        "status_code": status,
        "response": _seal(answer, secrets, context) if secrets else answer,
    }
    try:
        session.connection().execute(_STORE, row)
        session.commit()
    except IntegrityError:
        # a concurrent request with the same key won the race: undo ours, answer with theirs
        session.rollback()
        stored = _stored(session, merchant_id, key)
        if stored is None:
            raise
        return _replay(stored, fingerprint, secrets, context)
    # the stored dump is the answer: the same bytes as a replay, without dumping again
    return _answer(answer, status)
