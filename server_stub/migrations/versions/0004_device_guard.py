"""device_guard: the brute-force guard's counters on PostgreSQL (server_stub/guard.py).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 15:48:56.618428
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('device_guard',
    sa.Column('device_id', sa.String(length=64), nullable=False),
    sa.Column('window_ms', sa.BigInteger(), nullable=False),
    sa.Column('requests', sa.BigInteger(), nullable=False),
    sa.Column('fail_window_ms', sa.BigInteger(), nullable=False),
    sa.Column('failures', sa.BigInteger(), nullable=False),
    sa.Column('locked_until_ms', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('device_id')
    )


def downgrade() -> None:
    op.drop_table('device_guard')
