"""Alembic environment: always run programmatically with a connection (see store.db)."""

from __future__ import annotations

from alembic import context

from creditgate.store.models import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
