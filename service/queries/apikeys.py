"""API keys: created once (the plain key is returned only then), stored as SHA-256.

A key looks like ``hw_<8 hex prefix>_<43 url-safe chars>``; 256 random bits make
a plain SHA-256 hash sufficient (no password stretching needed). Scopes are
ordered: ``admin`` includes ``write``, which includes ``read``.
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from detections.store.tables import ApiKey, utcnow
from service.queries.errors import InvalidInput

SCOPES = ("read", "write", "admin")


def hash_key(key: str) -> str:
    """The stored form of a key."""
    return hashlib.sha256(key.encode()).hexdigest()


def allows(granted: str, needed: str) -> bool:
    """Whether a key with scope ``granted`` may do what needs scope ``needed``."""
    return SCOPES.index(granted) >= SCOPES.index(needed)


def create(*, session: Session, name: str, scope: str) -> tuple[ApiKey, str]:
    """Create a key; return the row and the plain key (shown once, never stored).

    Raises:
        InvalidInput: unknown scope, empty name, or a name already in use.
    """
    if scope not in SCOPES:
        raise InvalidInput("scope", f"expected one of {', '.join(SCOPES)}, got {scope!r}")
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidInput("name", "must be 1..200 characters")
    if session.scalar(select(ApiKey.id).where(ApiKey.name == name)) is not None:
        raise InvalidInput("name", f"an API key named {name!r} already exists")
    prefix = secrets.token_hex(4)
    key = f"hw_{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiKey(name=name, prefix=prefix, hash=hash_key(key), scope=scope)
    session.add(row)
    session.flush()
    return row, key


def authenticate(*, session: Session, key: str) -> ApiKey | None:
    """The live key row matching ``key``, or None."""
    if not key or len(key) > 200:
        return None
    row = session.scalar(select(ApiKey).where(ApiKey.hash == hash_key(key)))
    if row is None or row.revoked_at is not None:
        return None
    return row


def revoke(*, session: Session, name: str) -> bool:
    """Revoke the key named ``name``; False when there is none."""
    row = session.scalar(select(ApiKey).where(ApiKey.name == name))
    if row is None:
        return False
    row.revoked_at = utcnow()
    return True
