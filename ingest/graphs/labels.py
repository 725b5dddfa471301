"""Red-team labels: join red-team lines to auth events (pure transform).

The Euler/Argus convention labels an auth event when a red-team line has the
same ``(time, src_host, dst_host)``; the user-aware variant also requires the
event's ``src_user`` to equal the red-team ``user``.
"""

from __future__ import annotations

import numpy as np
import polars as pl


def label_events(
    events: pl.DataFrame, redteam: pl.DataFrame, *, user_aware: bool = False
) -> tuple[pl.DataFrame, pl.Series]:
    """Mark auth events matched by red-team lines (pure).

    An event is labelled when a red-team line has equal ``(time, src_host,
    dst_host)`` (the Euler/Argus convention); ``user_aware`` also requires
    ``src_user == user``.

    Args:
        events: canonical auth events.
        redteam: ``time``, ``user``, ``src_host``, ``dst_host`` (``rt_id`` optional),
            e.g. from :func:`ingest.lanl.read_redteam`.

    Returns:
        ``events`` with a Boolean ``label`` column, and the ``rt_id`` (or row
        index) of the red-team lines that matched at least one event here.
    """
    if "rt_id" not in redteam.columns:
        redteam = redteam.with_row_index("rt_id").with_columns(pl.col("rt_id").cast(pl.Int64))
    keys = ["time", "src_host", "dst_host"]
    rt = redteam.select([*keys, "user", "rt_id"])
    cols = [*keys, "src_user"] if user_aware else keys
    right = [*keys, "user"] if user_aware else keys
    indexed = events.select([*keys, "src_user"]).with_row_index("_i")
    cand = indexed.filter(pl.col("time").is_in(rt["time"].unique().implode()))
    hits = cand.join(rt, left_on=cols, right_on=right, how="inner")
    mask = np.zeros(events.height, dtype=bool)
    if hits.height:
        mask[hits["_i"].unique().to_numpy()] = True
    labelled = events.with_columns(pl.Series("label", mask))
    return labelled, hits["rt_id"].unique().sort()
