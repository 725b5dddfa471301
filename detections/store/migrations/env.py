"""Alembic environment: runs migrations on the engine handed over by
``detections.store.database.migrate`` or, from the ``alembic`` command line, on the URL in
``HOPWATCH_DATABASE__URL`` (default ``sqlite:///hopwatch.db``)."""

from __future__ import annotations

import os

from alembic import context

from detections.store.database import open_engine
from detections.store.tables import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    """Run every pending migration in one transaction per connection."""
    engine = config.attributes.get("engine")
    if engine is None:
        engine = open_engine(os.environ.get("HOPWATCH_DATABASE__URL", "sqlite:///hopwatch.db"))
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; give a database URL")
run_migrations_online()
