"""feed sync jobs

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('feeds',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('direction', sa.String(length=8), nullable=False),
    sa.Column('format', sa.String(length=32), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('group_slug', sa.String(length=64), nullable=False),
    sa.Column('collection', sa.String(length=64), nullable=False),
    sa.Column('publish_as', sa.String(length=64), nullable=True),
    sa.Column('peer_community', sa.String(length=64), nullable=True),
    sa.Column('tlp', sa.String(length=16), nullable=False),
    sa.Column('tlp_version', sa.SmallInteger(), nullable=False),
    sa.Column('options', sa.JSON(), nullable=False),
    sa.Column('username', sa.String(length=255), nullable=True),
    sa.Column('password_env', sa.String(length=128), nullable=True),
    sa.Column('interval_s', sa.Integer(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('next_run_at_us', sa.BigInteger(), nullable=False),
    sa.Column('cursor', sa.String(length=40), nullable=True),
    sa.Column('lease_until_us', sa.BigInteger(), nullable=True),
    sa.Column('leased_by', sa.String(length=128), nullable=True),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.CheckConstraint("direction IN ('pull', 'push')", name=op.f('ck_feeds_direction')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feeds')),
    sa.UniqueConstraint('name', name=op.f('uq_feeds_name'))
    )
    with op.batch_alter_table('feeds', schema=None) as batch_op:
        batch_op.create_index('ix_feeds_due', ['enabled', 'next_run_at_us'], unique=False)

    op.create_table('feed_runs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('feed_id', sa.Integer(), nullable=False),
    sa.Column('worker_id', sa.String(length=128), nullable=False),
    sa.Column('started_us', sa.BigInteger(), nullable=False),
    sa.Column('finished_us', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('read', sa.Integer(), nullable=False),
    sa.Column('created', sa.Integer(), nullable=False),
    sa.Column('new_versions', sa.Integer(), nullable=False),
    sa.Column('unchanged', sa.Integer(), nullable=False),
    sa.Column('rejected', sa.Integer(), nullable=False),
    sa.Column('skipped', sa.Integer(), nullable=False),
    sa.Column('refused', sa.Integer(), nullable=False),
    sa.Column('sent', sa.Integer(), nullable=False),
    sa.Column('cursor_before', sa.String(length=40), nullable=True),
    sa.Column('cursor_after', sa.String(length=40), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.CheckConstraint("status IN ('ok', 'failed')", name=op.f('ck_feed_runs_status')),
    sa.ForeignKeyConstraint(['feed_id'], ['feeds.id'], name=op.f('fk_feed_runs_feed_id_feeds'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feed_runs')),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('feed_runs', schema=None) as batch_op:
        batch_op.create_index('ix_feed_runs_feed', ['feed_id', 'started_us'], unique=False)
        batch_op.create_index('ix_feed_runs_started', ['started_us'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('feed_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_feed_runs_started')
        batch_op.drop_index('ix_feed_runs_feed')

    op.drop_table('feed_runs')
    with op.batch_alter_table('feeds', schema=None) as batch_op:
        batch_op.drop_index('ix_feeds_due')

    op.drop_table('feeds')
