"""The tables added while migrations were introduced: the HIS bill feed (his_bills,
his_bill_lines), repayment reminders, the scheduler's job leases, repayment orders.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('job_leases',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('holder', sa.String(length=80), nullable=True),
    sa.Column('lease_until_ms', sa.BigInteger(), nullable=False),
    sa.Column('next_due_ms', sa.BigInteger(), nullable=False),
    sa.Column('runs', sa.BigInteger(), nullable=False),
    sa.Column('cursor', sa.String(length=64), nullable=True),
    sa.Column('last_started_ms', sa.BigInteger(), nullable=True),
    sa.Column('last_finished_ms', sa.BigInteger(), nullable=True),
    sa.Column('last_result', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('his_bill_lines',
    sa.Column('bill_id', sa.String(length=64), nullable=False),
    sa.Column('line_no', sa.Integer(), nullable=False),
    sa.Column('insurance_class', sa.String(length=1), nullable=False),
    sa.ForeignKeyConstraint(['bill_id'], ['bills.bill_id'], ),
    sa.PrimaryKeyConstraint('bill_id', 'line_no')
    )
    op.create_table('his_bills',
    sa.Column('site_id', sa.String(length=64), nullable=False),
    sa.Column('bill_no', sa.String(length=64), nullable=False),
    sa.Column('bill_id', sa.String(length=64), nullable=False),
    sa.Column('device_id', sa.String(length=64), nullable=False),
    sa.Column('created_hash', sa.String(length=64), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.Column('updated_ms', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['bill_id'], ['bills.bill_id'], ),
    sa.ForeignKeyConstraint(['device_id'], ['devices.device_id'], ),
    sa.ForeignKeyConstraint(['site_id'], ['sites.site_id'], ),
    sa.PrimaryKeyConstraint('site_id', 'bill_no'),
    sa.UniqueConstraint('bill_id')
    )
    op.create_table('repayment_orders',
    sa.Column('order_id', sa.String(length=64), nullable=False),
    sa.Column('site_id', sa.String(length=64), nullable=False),
    sa.Column('device_id', sa.String(length=64), nullable=False),
    sa.Column('patient_id', sa.String(length=64), nullable=False),
    sa.Column('settlement_id', sa.String(length=64), nullable=True),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('provider', sa.String(length=32), nullable=False),
    sa.Column('code_url', sa.String(length=512), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.Column('expires_ms', sa.BigInteger(), nullable=False),
    sa.Column('ended_ms', sa.BigInteger(), nullable=True),
    sa.Column('transaction_id', sa.String(length=64), nullable=True),
    sa.Column('repayment_id', sa.String(length=64), nullable=True),
    sa.Column('refund_id', sa.String(length=64), nullable=True),
    sa.Column('refund_fen', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['device_id'], ['devices.device_id'], ),
    sa.ForeignKeyConstraint(['patient_id'], ['users.patient_id'], ),
    sa.ForeignKeyConstraint(['repayment_id'], ['repayments.repayment_id'], ),
    sa.ForeignKeyConstraint(['site_id'], ['sites.site_id'], ),
    sa.PrimaryKeyConstraint('order_id'),
    sa.UniqueConstraint('transaction_id')
    )
    with op.batch_alter_table('repayment_orders', schema=None) as batch_op:
        batch_op.create_index('ix_repayment_orders_open', ['state', 'expires_ms'], unique=False)

    op.create_table('reminders',
    sa.Column('settlement_id', sa.String(length=64), nullable=False),
    sa.Column('stage', sa.String(length=16), nullable=False),
    sa.Column('patient_id', sa.String(length=64), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('due_ms', sa.BigInteger(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.Column('sent_ms', sa.BigInteger(), nullable=True),
    sa.Column('gateway_ref', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['patient_id'], ['users.patient_id'], ),
    sa.ForeignKeyConstraint(['settlement_id'], ['credit_charges.settlement_id'], ),
    sa.PrimaryKeyConstraint('settlement_id', 'stage')
    )
    with op.batch_alter_table('reminders', schema=None) as batch_op:
        batch_op.create_index('ix_reminders_state', ['state', 'created_ms'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('reminders', schema=None) as batch_op:
        batch_op.drop_index('ix_reminders_state')

    op.drop_table('reminders')
    with op.batch_alter_table('repayment_orders', schema=None) as batch_op:
        batch_op.drop_index('ix_repayment_orders_open')

    op.drop_table('repayment_orders')
    op.drop_table('his_bills')
    op.drop_table('his_bill_lines')
    op.drop_table('job_leases')
