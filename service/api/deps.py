"""Request dependencies: a database session per request and API-key auth with scopes.

A key is sent as ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``.
Missing or unknown key: 401; a key without the needed scope: 403.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, Any, TypeVar

from fastapi import Depends, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from service.queries import apikeys

_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <API key>")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="X-API-Key: <API key>")


def get_session(request: Request) -> Iterator[Session]:
    """A session for this request: committed when the route returns, rolled back on error."""
    session = request.app.state.sessions()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_session, scope="function")]

T = TypeVar("T")


async def read(request: Request, fn: Callable[..., T], /, **kwargs: Any) -> T:
    """``fn(session=<pooled connection>, **kwargs)`` in the thread pool: one hop, no ORM
    session. For the hot read routes; the connection is in autocommit mode (no
    BEGIN / ROLLBACK round trips), so ``fn`` must only read."""
    engine = request.app.state.read_engine

    def call() -> T:
        with engine.connect() as conn:
            return fn(session=conn, **kwargs)

    return await run_in_threadpool(call)


def _lookup(sessions: Callable[[], Session], key: str) -> tuple[str, str] | None:
    with sessions() as session:
        row = apikeys.authenticate(session=session, key=key)
        return (row.name, row.scope) if row is not None else None


def require(scope: str) -> Callable[..., object]:
    """A dependency that admits keys with at least ``scope``; returns (name, scope)."""

    async def check(
        request: Request,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        header: Annotated[str | None, Depends(_header)],
    ) -> tuple[str, str]:
        key = bearer.credentials if bearer is not None else header
        if not key:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "missing API key: send Authorization: Bearer <key> or X-API-Key",
                headers={"WWW-Authenticate": "Bearer"},
            )
        cache = request.app.state.key_cache
        found = cache.get(key)
        if found is None:
            found = await run_in_threadpool(_lookup, request.app.state.sessions, key)
            if found is not None:
                cache.put(key, found)
        if found is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "unknown or revoked API key",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if not apikeys.allows(found[1], scope):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, f"this API key has scope {found[1]!r}; needs {scope!r}"
            )
        request.state.actor = found[0]
        return found

    return check


Reader = Depends(require("read"))
Writer = Depends(require("write"))
Admin = Depends(require("admin"))
