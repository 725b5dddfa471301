"""A small time-bounded cache of verified API keys (per app, not module state)."""

from __future__ import annotations

import time
from collections import OrderedDict

from service.queries.apikeys import hash_key


class KeyCache:
    """Remember (name, scope) of verified keys for ``ttl`` seconds (revocation lag).

    Keys are held by their hash only, never in plain text.
    """

    def __init__(self, ttl: float = 5.0, size: int = 1024) -> None:
        self.ttl = ttl
        self.size = size
        self._items: OrderedDict[str, tuple[float, tuple[str, str]]] = OrderedDict()

    def get(self, key: str) -> tuple[str, str] | None:
        """The cached principal of ``key`` while fresh."""
        item = self._items.get(hash_key(key))
        if item is None or item[0] < time.monotonic():
            return None
        return item[1]

    def put(self, key: str, principal: tuple[str, str]) -> None:
        """Remember a verified key."""
        if self.ttl <= 0:
            return
        self._items[hash_key(key)] = (time.monotonic() + self.ttl, principal)
        while len(self._items) > self.size:
            self._items.popitem(last=False)
