"""The alert store: SQLAlchemy tables (:mod:`~detections.store.tables`), Alembic migrations
(``migrations/``), and engine set-up with idempotent alert and campaign writes
(:mod:`~detections.store.database`).
"""

from detections.store.database import (
    StoreError,
    insert_for,
    migrate,
    open_engine,
    relink_campaigns,
    session_factory,
    upsert_alerts,
)

__all__ = [
    "StoreError",
    "insert_for",
    "migrate",
    "open_engine",
    "relink_campaigns",
    "session_factory",
    "upsert_alerts",
]
