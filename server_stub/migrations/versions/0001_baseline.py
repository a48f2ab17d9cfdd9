"""Baseline: the 24 tables of the schema before migrations (git 2a37639).

A database created before migrations existed holds exactly these; ``upgrade()`` stamps it
at this revision instead of creating them (server_stub/migrations/__init__.py).

Revision ID: 0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('seq', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('at_ms', sa.BigInteger(), nullable=False),
    sa.Column('actor', sa.String(length=80), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('subject', sa.String(length=128), nullable=False),
    sa.Column('details', sa.Text(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('seq')
    )
    op.create_table('counters',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('gallery_entries',
    sa.Column('site_id', sa.String(length=64), nullable=False),
    sa.Column('pack', sa.String(length=64), nullable=False),
    sa.Column('patient_id', sa.String(length=64), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.Column('present', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('site_id', 'pack', 'patient_id')
    )
    with op.batch_alter_table('gallery_entries', schema=None) as batch_op:
        batch_op.create_index('ix_gallery_sync', ['site_id', 'pack', 'version'], unique=False)

    op.create_table('idempotency',
    sa.Column('device_id', sa.String(length=64), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=False),
    sa.Column('body', sa.LargeBinary(), nullable=False),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('device_id', 'key')
    )
    with op.batch_alter_table('idempotency', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_idempotency_created_ms'), ['created_ms'], unique=False)

    op.create_table('meta',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_table('nonces',
    sa.Column('key_id', sa.String(length=64), nullable=False),
    sa.Column('nonce', sa.String(length=128), nullable=False),
    sa.Column('expires_ms', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('key_id', 'nonce')
    )
    with op.batch_alter_table('nonces', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_nonces_expires_ms'), ['expires_ms'], unique=False)

    op.create_table('second_factor_failures',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('device_id', sa.String(length=64), nullable=False),
    sa.Column('session_id', sa.String(length=64), nullable=False),
    sa.Column('patient_id', sa.String(length=64), nullable=False),
    sa.Column('at_ms', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('second_factor_failures', schema=None) as batch_op:
        batch_op.create_index('ix_sf_patient', ['patient_id', 'at_ms'], unique=False)
        batch_op.create_index('ix_sf_session', ['device_id', 'session_id', 'patient_id'], unique=False)

    op.create_table('sites',
    sa.Column('site_id', sa.String(length=64), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('site_id'),
    sa.UniqueConstraint('code')
    )
    op.create_table('users',
    sa.Column('patient_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('national_id_masked', sa.String(length=32), nullable=False),
    sa.Column('phone_masked', sa.String(length=32), nullable=False),
    sa.Column('phone_last4', sa.String(length=4), nullable=False),
    sa.Column('card_no', sa.String(length=32), nullable=True),
    sa.Column('category', sa.String(length=16), nullable=False),
    sa.Column('credit_limit_fen', sa.BigInteger(), nullable=False),
    sa.Column('outstanding_fen', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('status_reason', sa.String(length=64), nullable=True),
    sa.Column('overdue_count', sa.Integer(), nullable=False),
    sa.Column('consent_version', sa.String(length=32), nullable=True),
    sa.Column('consent_ms', sa.BigInteger(), nullable=True),
    sa.Column('consent_withdrawn_ms', sa.BigInteger(), nullable=True),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('patient_id'),
    sa.UniqueConstraint('card_no')
    )
    op.create_table('bills',
    sa.Column('bill_id', sa.String(length=64), nullable=False),
    sa.Column('site_id', sa.String(length=64), nullable=False),
    sa.Column('patient_id', sa.String(length=64), nullable=False),
    sa.Column('visit_id', sa.String(length=64), nullable=False),
    sa.Column('category', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('total_fen', sa.BigInteger(), nullable=False),
    sa.Column('eligible_fen', sa.BigInteger(), nullable=False),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.Column('settlement_id', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['patient_id'], ['users.patient_id'], ),
    sa.ForeignKeyConstraint(['site_id'], ['sites.site_id'], ),
    sa.PrimaryKeyConstraint('bill_id')
    )
    with op.batch_alter_table('bills', schema=None) as batch_op:
        batch_op.create_index('ix_bills_patient', ['patient_id', 'site_id', 'status'], unique=False)

    op.create_table('devices',
    sa.Column('device_id', sa.String(length=64), nullable=False),
    sa.Column('site_id', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('public_key', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('registered_ms', sa.BigInteger(), nullable=False),
    sa.Column('revoked_ms', sa.BigInteger(), nullable=True),
    sa.Column('revoke_reason', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['site_id'], ['sites.site_id'], ),
    sa.PrimaryKeyConstraint('device_id')
    )
    op.create_table('enrolment_tokens',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('site_id', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('issued_ms', sa.BigInteger(), nullable=False),
    sa.Column('expires_ms', sa.BigInteger(), nullable=False),
    sa.Column('used_ms', sa.BigInteger(), nullable=True),
    sa.Column('device_id', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['site_id'], ['sites.site_id'], ),
    sa.PrimaryKeyConstraint('token_hash')
    )
    op.create_table('repayments',
    sa.Column('repayment_id', sa.String(length=64), nullable=False),
    sa.Column('patient_id', sa.String(length=64), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('method', sa.String(length=16), nullable=False),
    sa.Column('reference', sa.String(length=64), nullable=True),
    sa.Column('received_ms', sa.BigInteger(), nullable=False),
    sa.Column('actor', sa.String(length=80), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['users.patient_id'], ),
    sa.PrimaryKeyConstraint('repayment_id')
    )
    op.create_table('templates',
    sa.Column('patient_id', sa.String(length=64), nullable=False),
    sa.Column('pack', sa.String(length=64), nullable=False),
    sa.Column('dim', sa.Integer(), nullable=False),
    sa.Column('sealed', sa.LargeBinary(), nullable=False),
    sa.Column('enrolled_ms', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['users.patient_id'], ),
    sa.PrimaryKeyConstraint('patient_id', 'pack')
    )
    op.create_table('vouchers',
    sa.Column('token', sa.String(length=32), nullable=False),
    sa.Column('patient_id', sa.String(length=64), nullable=False),
    sa.Column('issued_ms', sa.BigInteger(), nullable=False),
    sa.Column('expires_ms', sa.BigInteger(), nullable=False),
    sa.Column('revoked_ms', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['patient_id'], ['users.patient_id'], ),
    sa.PrimaryKeyConstraint('token')
    )
    op.create_table('bill_items',
    sa.Column('bill_id', sa.String(length=64), nullable=False),
    sa.Column('line_no', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('description', sa.String(length=128), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('unit_fen', sa.BigInteger(), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('eligible', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['bill_id'], ['bills.bill_id'], ),
    sa.PrimaryKeyConstraint('bill_id', 'line_no')
    )
    op.create_table('handoffs',
    sa.Column('handoff_id', sa.String(length=64), nullable=False),
    sa.Column('site_id', sa.String(length=64), nullable=False),
    sa.Column('kiosk_id', sa.String(length=64), nullable=False),
    sa.Column('session_id', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.String(length=64), nullable=False),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.Column('taken_by', sa.String(length=64), nullable=True),
    sa.Column('taken_ms', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['kiosk_id'], ['devices.device_id'], ),
    sa.ForeignKeyConstraint(['site_id'], ['sites.site_id'], ),
    sa.ForeignKeyConstraint(['taken_by'], ['devices.device_id'], ),
    sa.PrimaryKeyConstraint('handoff_id')
    )
    with op.batch_alter_table('handoffs', schema=None) as batch_op:
        batch_op.create_index('ix_handoffs_site_day', ['site_id', 'created_ms'], unique=False)
        batch_op.create_index('ux_handoffs_session', ['kiosk_id', 'session_id'], unique=True)

    op.create_table('heartbeats',
    sa.Column('device_id', sa.String(length=64), nullable=False),
    sa.Column('received_ms', sa.BigInteger(), nullable=False),
    sa.Column('report', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['devices.device_id'], ),
    sa.PrimaryKeyConstraint('device_id')
    )
    op.create_table('reported_anchors',
    sa.Column('device_id', sa.String(length=64), nullable=False),
    sa.Column('seq', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.Column('reported_ms', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['device_id'], ['devices.device_id'], ),
    sa.PrimaryKeyConstraint('device_id', 'seq', 'hash')
    )
    op.create_table('settlements',
    sa.Column('settlement_id', sa.String(length=64), nullable=False),
    sa.Column('receipt_no', sa.String(length=48), nullable=False),
    sa.Column('bill_id', sa.String(length=64), nullable=False),
    sa.Column('site_id', sa.String(length=64), nullable=False),
    sa.Column('patient_id', sa.String(length=64), nullable=False),
    sa.Column('device_id', sa.String(length=64), nullable=False),
    sa.Column('method', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('total_fen', sa.BigInteger(), nullable=False),
    sa.Column('basic_pool_fen', sa.BigInteger(), nullable=False),
    sa.Column('critical_illness_fen', sa.BigInteger(), nullable=False),
    sa.Column('medical_aid_fen', sa.BigInteger(), nullable=False),
    sa.Column('self_pay_fen', sa.BigInteger(), nullable=False),
    sa.Column('charge_to_credit_fen', sa.BigInteger(), nullable=False),
    sa.Column('pay_at_counter_fen', sa.BigInteger(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('settled_ms', sa.BigInteger(), nullable=False),
    sa.Column('reversed_ms', sa.BigInteger(), nullable=True),
    sa.Column('reverse_reason', sa.String(length=200), nullable=True),
    sa.Column('reversed_by', sa.String(length=64), nullable=True),
    sa.Column('refund_fen', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['bill_id'], ['bills.bill_id'], ),
    sa.PrimaryKeyConstraint('settlement_id'),
    sa.UniqueConstraint('receipt_no')
    )
    with op.batch_alter_table('settlements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_settlements_bill_id'), ['bill_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_settlements_patient_id'), ['patient_id'], unique=False)
        batch_op.create_index('ix_settlements_site_day', ['site_id', 'settled_ms'], unique=False)
        batch_op.create_index('ix_settlements_site_reversed', ['site_id', 'reversed_ms'], unique=False)

    op.create_table('credit_charges',
    sa.Column('settlement_id', sa.String(length=64), nullable=False),
    sa.Column('patient_id', sa.String(length=64), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('repaid_fen', sa.BigInteger(), nullable=False),
    sa.Column('due_ms', sa.BigInteger(), nullable=False),
    sa.Column('cancelled', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['settlement_id'], ['settlements.settlement_id'], ),
    sa.PrimaryKeyConstraint('settlement_id')
    )
    with op.batch_alter_table('credit_charges', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_credit_charges_patient_id'), ['patient_id'], unique=False)

    op.create_table('handoff_closures',
    sa.Column('handoff_id', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('outcome', sa.String(length=32), nullable=False),
    sa.Column('settlement_id', sa.String(length=64), nullable=True),
    sa.Column('closed_by', sa.String(length=64), nullable=False),
    sa.Column('closed_ms', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['closed_by'], ['devices.device_id'], ),
    sa.ForeignKeyConstraint(['handoff_id'], ['handoffs.handoff_id'], ),
    sa.PrimaryKeyConstraint('handoff_id')
    )
    op.create_table('handoff_patients',
    sa.Column('handoff_id', sa.String(length=64), nullable=False),
    sa.Column('patient_id', sa.String(length=64), nullable=True),
    sa.Column('amount_fen', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['handoff_id'], ['handoffs.handoff_id'], ),
    sa.ForeignKeyConstraint(['patient_id'], ['users.patient_id'], ),
    sa.PrimaryKeyConstraint('handoff_id')
    )
    op.create_table('handoff_sessions',
    sa.Column('kiosk_id', sa.String(length=64), nullable=False),
    sa.Column('session_id', sa.String(length=64), nullable=False),
    sa.Column('handoff_id', sa.String(length=64), nullable=False),
    sa.Column('created_ms', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['handoff_id'], ['handoffs.handoff_id'], ),
    sa.ForeignKeyConstraint(['kiosk_id'], ['devices.device_id'], ),
    sa.PrimaryKeyConstraint('kiosk_id', 'session_id')
    )
    with op.batch_alter_table('handoff_sessions', schema=None) as batch_op:
        batch_op.create_index('ix_handoff_sessions_handoff', ['handoff_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('handoff_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_handoff_sessions_handoff')

    op.drop_table('handoff_sessions')
    op.drop_table('handoff_patients')
    op.drop_table('handoff_closures')
    with op.batch_alter_table('credit_charges', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_credit_charges_patient_id'))

    op.drop_table('credit_charges')
    with op.batch_alter_table('settlements', schema=None) as batch_op:
        batch_op.drop_index('ix_settlements_site_reversed')
        batch_op.drop_index('ix_settlements_site_day')
        batch_op.drop_index(batch_op.f('ix_settlements_patient_id'))
        batch_op.drop_index(batch_op.f('ix_settlements_bill_id'))

    op.drop_table('settlements')
    op.drop_table('reported_anchors')
    op.drop_table('heartbeats')
    with op.batch_alter_table('handoffs', schema=None) as batch_op:
        batch_op.drop_index('ux_handoffs_session')
        batch_op.drop_index('ix_handoffs_site_day')

    op.drop_table('handoffs')
    op.drop_table('bill_items')
    op.drop_table('vouchers')
    op.drop_table('templates')
    op.drop_table('repayments')
    op.drop_table('enrolment_tokens')
    op.drop_table('devices')
    with op.batch_alter_table('bills', schema=None) as batch_op:
        batch_op.drop_index('ix_bills_patient')

    op.drop_table('bills')
    op.drop_table('users')
    op.drop_table('sites')
    with op.batch_alter_table('second_factor_failures', schema=None) as batch_op:
        batch_op.drop_index('ix_sf_session')
        batch_op.drop_index('ix_sf_patient')

    op.drop_table('second_factor_failures')
    with op.batch_alter_table('nonces', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_nonces_expires_ms'))

    op.drop_table('nonces')
    op.drop_table('meta')
    with op.batch_alter_table('idempotency', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_idempotency_created_ms'))

    op.drop_table('idempotency')
    with op.batch_alter_table('gallery_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_gallery_sync')

    op.drop_table('gallery_entries')
    op.drop_table('counters')
    op.drop_table('audit_log')
