"""Running history for the tabular edge features, advanced one window at a time.

The history holds additive aggregates of every window consumed so far, keyed by
host pair, host, (user, destination) and user. Features of window ``w`` are
computed from the history of windows ``< w`` plus window ``w`` itself (see
:mod:`models.xgb.features.table`); then :func:`advance` folds window ``w`` in. Nothing in
here ever looks at a later window, which is what makes the features leak-free,
and scoring a new window costs one window's worth of joins, not a replay.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import polars as pl

#: Per (src_host, dst_host): windows seen, events, failures, last window seen.
PAIR_SCHEMA = pl.Schema(
    {
        "src_host": pl.String(),
        "dst_host": pl.String(),
        "p_windows": pl.Int64(),
        "p_events": pl.Int64(),
        "p_failures": pl.Int64(),
        "p_last": pl.Int64(),
    }
)
#: Per host, as a source (s_*) and as a destination (d_*). ``*_deg_sum`` is the
#: sum over active windows of the distinct peers in that window; ``*_distinct``
#: counts distinct peers ever.
HOST_SCHEMA = pl.Schema(
    {
        "host": pl.String(),
        "s_windows": pl.Int64(),
        "s_deg_sum": pl.Int64(),
        "s_users_sum": pl.Int64(),
        "s_events": pl.Int64(),
        "s_failures": pl.Int64(),
        "s_distinct": pl.Int64(),
        "d_windows": pl.Int64(),
        "d_deg_sum": pl.Int64(),
        "d_events": pl.Int64(),
        "d_distinct": pl.Int64(),
    }
)
#: Per (src_user, dst_host): windows with at least one event, last such window.
USER_DST_SCHEMA = pl.Schema(
    {
        "src_user": pl.String(),
        "dst_host": pl.String(),
        "ud_windows": pl.Int64(),
        "ud_last": pl.Int64(),
    }
)
#: Per src_user: active windows, sum of distinct destinations per window, distinct ever.
USER_SCHEMA = pl.Schema(
    {
        "src_user": pl.String(),
        "u_windows": pl.Int64(),
        "u_deg_sum": pl.Int64(),
        "u_distinct": pl.Int64(),
    }
)

#: Per (src_user, src_host): windows the account authenticated from the host to another one.
USER_SRC_SCHEMA = pl.Schema(
    {
        "src_user": pl.String(),
        "src_host": pl.String(),
        "us_windows": pl.Int64(),
        "us_last": pl.Int64(),
    }
)
#: Per (src_user, host): the last window the account opened a session on the host (an
#: interactive, remote-interactive, unlock or cached-interactive logon).
SESSION_SCHEMA = pl.Schema({"src_user": pl.String(), "host": pl.String(), "ss_last": pl.Int64()})

_FRAMES = ("pairs", "hosts", "user_dst", "users", "user_src", "sessions")


@dataclass(frozen=True)
class WindowSummary:
    """One window's aggregates, computed once and used for features and for :func:`advance`.

    Attributes:
        window: the window id.
        pairs: src_host, dst_host, count, failures (one row per edge).
        src: src_host, out_degree, new_dsts, src_users, src_events, src_failures.
        dst: dst_host, in_degree, new_srcs, dst_events.
        user_dst: src_user, dst_host (distinct pairs of the window).
        users: src_user, u_deg, u_new_dsts.
        user_src: src_user, src_host (accounts used from a host to another one).
        sessions: src_user, host (sessions opened on a host in the window).
    """

    window: int
    pairs: pl.DataFrame
    src: pl.DataFrame
    dst: pl.DataFrame
    user_dst: pl.DataFrame
    users: pl.DataFrame
    user_src: pl.DataFrame
    sessions: pl.DataFrame


@dataclass(frozen=True)
class History:
    """Aggregates of every window consumed so far (immutable; :func:`advance` returns a new one).

    Attributes:
        pairs, hosts, user_dst, users, user_src, sessions: frames with the module's schemas.
        windows: number of windows consumed.
        last_window: id of the last window consumed (``None`` when empty).
    """

    pairs: pl.DataFrame
    hosts: pl.DataFrame
    user_dst: pl.DataFrame
    users: pl.DataFrame
    user_src: pl.DataFrame
    sessions: pl.DataFrame
    windows: int = 0
    last_window: int | None = None

    @classmethod
    def empty(cls) -> History:
        """A history with nothing in it."""
        return cls(
            pairs=pl.DataFrame(schema=PAIR_SCHEMA),
            hosts=pl.DataFrame(schema=HOST_SCHEMA),
            user_dst=pl.DataFrame(schema=USER_DST_SCHEMA),
            users=pl.DataFrame(schema=USER_SCHEMA),
            user_src=pl.DataFrame(schema=USER_SRC_SCHEMA),
            sessions=pl.DataFrame(schema=SESSION_SCHEMA),
        )

    def save(self, directory: str | Path) -> None:
        """Write the frames as Parquet plus a small ``history.json``."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        for name in _FRAMES:
            getattr(self, name).write_parquet(d / f"{name}.parquet")
        meta = {"windows": self.windows, "last_window": self.last_window}
        (d / "history.json").write_text(json.dumps(meta))

    @classmethod
    def load(cls, directory: str | Path) -> History:
        """Read a history written by :meth:`save`.

        Raises:
            FileNotFoundError: a part is missing (the message names it).
        """
        d = Path(directory)
        missing = [
            str(d / f)
            for f in [*(f"{n}.parquet" for n in _FRAMES), "history.json"]
            if not (d / f).is_file()
        ]
        if missing:
            raise FileNotFoundError(f"feature history incomplete, missing: {', '.join(missing)}")
        meta = json.loads((d / "history.json").read_text())
        frames = {n: pl.read_parquet(d / f"{n}.parquet") for n in _FRAMES}
        return cls(**frames, windows=int(meta["windows"]), last_window=meta["last_window"])


def _fold(
    old: pl.DataFrame, new: pl.LazyFrame, keys: list[str], maxed: tuple[str, ...] = ()
) -> pl.LazyFrame:
    """Add ``new`` into ``old`` by key (sums; ``maxed`` columns take the maximum)."""
    new = new.select(old.columns).cast(dict(old.schema))
    value_cols = [c for c in old.columns if c not in keys]
    aggs = [pl.col(c).max() if c in maxed else pl.col(c).sum() for c in value_cols]
    return pl.concat([old.lazy(), new]).group_by(keys, maintain_order=True).agg(aggs)


def advance(history: History, summary: WindowSummary) -> History:
    """Fold one window into the history (pure: returns a new :class:`History`).

    Raises:
        ValueError: the window is not after the history's last window.
    """
    w = summary.window
    if history.last_window is not None and w <= history.last_window:
        raise ValueError(
            f"feature history is at window {history.last_window}; cannot fold in window {w}"
        )
    pairs = summary.pairs.lazy().select(
        "src_host",
        "dst_host",
        pl.lit(1, pl.Int64).alias("p_windows"),
        pl.col("count").alias("p_events"),
        pl.col("failures").alias("p_failures"),
        pl.lit(w, pl.Int64).alias("p_last"),
    )
    src = summary.src.lazy().select(
        pl.col("src_host").alias("host"),
        pl.lit(1, pl.Int64).alias("s_windows"),
        pl.col("out_degree").alias("s_deg_sum"),
        pl.col("src_users").alias("s_users_sum"),
        pl.col("src_events").alias("s_events"),
        pl.col("src_failures").alias("s_failures"),
        pl.col("new_dsts").alias("s_distinct"),
    )
    dst = summary.dst.lazy().select(
        pl.col("dst_host").alias("host"),
        pl.lit(1, pl.Int64).alias("d_windows"),
        pl.col("in_degree").alias("d_deg_sum"),
        pl.col("dst_events").alias("d_events"),
        pl.col("new_srcs").alias("d_distinct"),
    )
    hosts_new = pl.concat([src, dst], how="diagonal").fill_null(0)
    user_dst = summary.user_dst.lazy().select(
        "src_user",
        "dst_host",
        pl.lit(1, pl.Int64).alias("ud_windows"),
        pl.lit(w, pl.Int64).alias("ud_last"),
    )
    users = summary.users.lazy().select(
        "src_user",
        pl.lit(1, pl.Int64).alias("u_windows"),
        pl.col("u_deg").alias("u_deg_sum"),
        pl.col("u_new_dsts").alias("u_distinct"),
    )
    user_src = summary.user_src.lazy().select(
        "src_user",
        "src_host",
        pl.lit(1, pl.Int64).alias("us_windows"),
        pl.lit(w, pl.Int64).alias("us_last"),
    )
    sessions = summary.sessions.lazy().select(
        "src_user", "host", pl.lit(w, pl.Int64).alias("ss_last")
    )
    folded = pl.collect_all(
        [
            _fold(history.pairs, pairs, ["src_host", "dst_host"], maxed=("p_last",)),
            _fold(history.hosts, hosts_new, ["host"]),
            _fold(history.user_dst, user_dst, ["src_user", "dst_host"], maxed=("ud_last",)),
            _fold(history.users, users, ["src_user"]),
            _fold(history.user_src, user_src, ["src_user", "src_host"], maxed=("us_last",)),
            _fold(history.sessions, sessions, ["src_user", "host"], maxed=("ss_last",)),
        ]
    )
    return replace(
        history,
        **dict(zip(_FRAMES, folded, strict=True)),
        windows=history.windows + 1,
        last_window=w,
    )
