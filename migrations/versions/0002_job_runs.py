"""Create job_runs: claims per job and the run that may finish it.

Revision ID: 0002_job_runs
Revises: 0001_create_jobs
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_job_runs"
down_revision: str | None = "0001_create_jobs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """A table of its own, so that ``jobs`` keeps exactly the contract's columns."""
    op.create_table(
        "job_runs",
        sa.Column(
            "job_id",
            sa.Uuid(),
            sa.ForeignKey("jobs.job_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column(
            "claimed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )


def downgrade() -> None:
    """Drop ``job_runs``."""
    op.drop_table("job_runs")
