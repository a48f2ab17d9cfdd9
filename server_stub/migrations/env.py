"""Alembic's environment: always handed an open connection (server_stub/migrations/__init__.py
runs every command inside ``Database.migrating()``), never an ini file."""

from __future__ import annotations

from alembic import context

from server_stub.db import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata,
                  render_as_batch=True,  # SQLite alters tables by copying them: batch mode
                  compare_type=True)
with context.begin_transaction():
    context.run_migrations()
