"""ix_gallery_patient: a user's gallery rows by patient (read at every settlement).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 16:29:26.013071
"""

from __future__ import annotations

from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('gallery_entries', schema=None) as batch_op:
        batch_op.create_index('ix_gallery_patient', ['patient_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('gallery_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_gallery_patient')
