"""alert quality: suppressed alerts with their reason, occurrences, the stage's score and
the triage priority (severity rank + score) of alerts and campaigns

``GET /alerts?suppressed=...`` filters on ``suppressed``; ``sort=-priority`` (the triage
page's default: severity, then score) reads ``ix_alerts_suppressed_priority``;
``GET /campaigns?sort=-priority`` reads ``ix_campaigns_priority``.

Revision ID: 0003q
Revises: 0002
Create Date: 2026-12-06 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003q"
down_revision = "0002"
branch_labels = None
depends_on = None

#: severity rank + 0.999 * score, for rows written before this revision.
_PRIORITY = (
    "(CASE severity WHEN 'critical' THEN 3 WHEN 'high' THEN 2 WHEN 'medium' THEN 1 ELSE 0 END)"
    " + 0.999 * (CASE WHEN {score} > 1 THEN 1 WHEN {score} < 0 THEN 0 ELSE {score} END)"
)


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("suppressed", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("suppressed_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("occurrences", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("stage_score", sa.Float(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("priority", sa.Float(), nullable=False, server_default="0"))
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("priority", sa.Float(), nullable=False, server_default="0"))
    op.execute(f"UPDATE alerts SET priority = {_PRIORITY.format(score='score')}")
    op.execute(f"UPDATE campaigns SET priority = {_PRIORITY.format(score='max_score')}")
    op.create_index(
        "ix_alerts_suppressed_priority", "alerts", ["suppressed", "priority", "id"], unique=False
    )
    op.create_index("ix_campaigns_priority", "campaigns", ["priority", "id"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_campaigns_priority", table_name="campaigns")
    op.drop_index("ix_alerts_suppressed_priority", table_name="alerts")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("priority")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        for name in ("priority", "stage_score", "occurrences", "suppressed_reason", "suppressed"):
            batch_op.drop_column(name)
