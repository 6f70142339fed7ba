"""Passwords hashed with argon2id; what a password must be."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 10
MAX_LENGTH = 200  # argon2 takes any length; a cap keeps a megabyte "password" off the CPU

_hasher = PasswordHasher()  # argon2id with RFC 9106's low-memory parameters
# verified against for unknown accounts, so a wrong email costs as long as a wrong password
_DUMMY = _hasher.hash("not a password of anyone")


class WeakPassword(ValueError):
    """A password the policy refuses; the message says why."""


def check_policy(password: str) -> None:
    """WeakPassword unless ``password`` is long enough and not absurdly long."""
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"at most {MAX_LENGTH} characters")


def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` (after the policy check)."""
    check_policy(password)
    return _hasher.hash(password)


def verify(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored``; None (no such user) costs the same time."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _hasher.verify(stored or _DUMMY, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """Whether ``stored`` was made with weaker parameters than today's."""
    return _hasher.check_needs_rehash(stored)
