"""Tables of their own for job owners (API token fingerprints) and Idempotency-Keys.

Revision ID: 0003_job_owners_idempotency_keys
Revises: 0002_job_runs
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_job_owners_idempotency_keys"
down_revision: str | None = "0002_job_runs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``job_owners`` and ``idempotency_keys``; ``jobs`` is left exactly as it is."""
    op.create_table(
        "job_owners",
        sa.Column(
            "job_id",
            sa.Uuid(),
            sa.ForeignKey("jobs.job_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("token_sha256", sa.Text(), nullable=False),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("owner", sa.Text(), primary_key=True),
        sa.Column("key", sa.Text(), primary_key=True),
        sa.Column("request_sha256", sa.Text(), nullable=False),
        sa.Column(
            "job_id", sa.Uuid(), sa.ForeignKey("jobs.job_id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_index("ix_idempotency_keys_job_id", "idempotency_keys", ["job_id"])


def downgrade() -> None:
    """Drop both tables."""
    op.drop_index("ix_idempotency_keys_job_id", table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
    op.drop_table("job_owners")
