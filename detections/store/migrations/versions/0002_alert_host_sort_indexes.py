"""host filter indexes that also order: (src_host|dst_host, time|score, id)

``GET /alerts?host=H`` reads the newest (or highest-scored) alerts of one host
from each side's index in order, with a limit, instead of fetching every alert
of the host and sorting it. The single-column host indexes are prefixes of the
new ones and are dropped.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 22:05:00
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_NEW = {
    "ix_alerts_src_host_time": ["src_host", "time", "id"],
    "ix_alerts_dst_host_time": ["dst_host", "time", "id"],
    "ix_alerts_src_host_score": ["src_host", "score", "id"],
    "ix_alerts_dst_host_score": ["dst_host", "score", "id"],
}


def upgrade() -> None:
    """Apply this revision."""
    for name, columns in _NEW.items():
        op.create_index(name, "alerts", columns, unique=False)
    op.drop_index("ix_alerts_src_host", table_name="alerts")
    op.drop_index("ix_alerts_dst_host", table_name="alerts")


def downgrade() -> None:
    """Revert this revision."""
    op.create_index("ix_alerts_src_host", "alerts", ["src_host"], unique=False)
    op.create_index("ix_alerts_dst_host", "alerts", ["dst_host"], unique=False)
    for name in _NEW:
        op.drop_index(name, table_name="alerts")
