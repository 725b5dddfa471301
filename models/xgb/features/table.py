"""Tabular history features for every (src_host, dst_host) edge of a window.

Pure transforms: one window's edge rows and auth events plus the running
:class:`~models.xgb.features.history.History` of earlier windows go in; a frame of
features per edge comes out. The history is advanced separately
(:func:`models.xgb.features.history.advance`), so features of window ``w`` never see
window ``w + 1`` or later.

Feature groups (names in :data:`FEATURES`; missing history is NaN, which
XGBoost treats as "missing"):

* the edge itself: event count, distinct users, failure ratio, auth-type and
  logon-type mix, hour of day and weekday of its first event;
* the pair's history: seen before, windows and events seen, windows since last;
* the source: distinct destinations now vs. its usual, new destinations now,
  distinct destinations ever, distinct users now vs. usual, failure history,
  role (share of its distinct peers that came *to* it: servers are high);
* the destination: distinct sources now vs. usual, new sources now, distinct
  sources ever, role;
* the users on the edge: how many never authenticated to this destination
  before, the least familiar user's history with it, and the busiest user's
  distinct destinations now, new destinations now and usual count;
* the people's accounts on the edge and the source: how many never authenticated
  from this source to another host before, and how many of those have no logon
  session on it (an interactive, remote-desktop or unlock logon in the last 12 hours or
  this window): a credential carried to a host and used from there, what a stolen one
  looks like (``ANONYMOUS LOGON`` and machine accounts are not people's accounts).
"""

from __future__ import annotations

import polars as pl

from models.xgb.features.history import History, WindowSummary

#: Edge-table columns the features read (see docs/data-format.md).
EDGE_INPUT_COLUMNS: tuple[str, ...] = (
    "window",
    "src_host",
    "dst_host",
    "count",
    "n_users",
    "failures",
    "n_kerberos",
    "n_ntlm",
    "n_negotiate",
    "n_network",
    "n_interactive",
    "n_remote_interactive",
    "n_service",
    "first_time",
)
#: Event columns the features read.
EVENT_INPUT_COLUMNS: tuple[str, ...] = ("src_user", "src_host", "dst_host")

#: Feature names, in model column order.
FEATURES: tuple[str, ...] = (
    "count",
    "n_users",
    "failure_ratio",
    "frac_kerberos",
    "frac_ntlm",
    "frac_negotiate",
    "frac_network",
    "frac_interactive",
    "frac_remote_interactive",
    "frac_service",
    "hour",
    "weekday",
    "pair_seen",
    "pair_windows",
    "pair_events",
    "windows_since_pair",
    "src_out_degree",
    "src_out_degree_usual",
    "src_new_dsts",
    "src_hist_dsts",
    "src_users",
    "src_users_usual",
    "src_failure_ratio_hist",
    "src_hist_windows",
    "src_server_role",
    "dst_in_degree",
    "dst_in_degree_usual",
    "dst_new_srcs",
    "dst_hist_srcs",
    "dst_hist_windows",
    "dst_server_role",
    "users_new_to_dst",
    "user_dst_windows",
    "user_dsts_now",
    "user_new_dsts",
    "user_dsts_usual",
    "users_new_from_src",
    "users_new_from_src_no_session",
)

KEYS = ("window", "src_host", "dst_host")
#: Logon types that open a session on the destination (a person at it).
SESSION_LOGON_TYPES = ("Interactive", "RemoteInteractive", "Unlock", "CachedInteractive")
#: Windows a session counts as "logged on there" (12 hours of 30-minute windows).
SESSION_WINDOWS = 24
#: A person's account: not a machine account (``C12$@DOM1``), SYSTEM or ANONYMOUS LOGON.
_PERSON = ~pl.col("src_user").fill_null("").str.contains(
    r"(?i)^([^@]*\$|system|anonymous logon)(@|$)"
)


def _require(frame: pl.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} frame lacks column(s): {', '.join(missing)}")


def _ratio(num: pl.Expr, den: pl.Expr) -> pl.Expr:
    """num / den as Float64, null where den is null or 0."""
    return pl.when(den > 0).then(num.cast(pl.Float64) / den.cast(pl.Float64))


def _summary_plan(
    history: History, edges: pl.LazyFrame, events: pl.LazyFrame
) -> dict[str, pl.LazyFrame]:
    """Lazy frames of :class:`WindowSummary` (everything but ``window``)."""
    pairs = edges.select("src_host", "dst_host", "count", "failures")
    seen = pairs.join(
        history.pairs.lazy().select("src_host", "dst_host", pl.lit(True).alias("_seen")),
        on=["src_host", "dst_host"],
        how="left",
    ).with_columns(pl.col("_seen").fill_null(False))
    users_from_src = events.group_by("src_host").agg(
        pl.col("src_user").n_unique().alias("src_users")
    )
    src = (
        seen.group_by("src_host")
        .agg(
            pl.len().cast(pl.Int64).alias("out_degree"),
            (~pl.col("_seen")).sum().cast(pl.Int64).alias("new_dsts"),
            pl.col("count").sum().alias("src_events"),
            pl.col("failures").sum().alias("src_failures"),
        )
        .join(users_from_src, on="src_host", how="left")
        .with_columns(pl.col("src_users").fill_null(0).cast(pl.Int64))
    )
    dst = seen.group_by("dst_host").agg(
        pl.len().cast(pl.Int64).alias("in_degree"),
        (~pl.col("_seen")).sum().cast(pl.Int64).alias("new_srcs"),
        pl.col("count").sum().alias("dst_events"),
    )
    user_dst = events.select("src_user", "dst_host").unique()
    ud_seen = user_dst.join(
        history.user_dst.lazy().select("src_user", "dst_host", pl.lit(True).alias("_seen")),
        on=["src_user", "dst_host"],
        how="left",
    ).with_columns(pl.col("_seen").fill_null(False))
    users = ud_seen.group_by("src_user").agg(
        pl.len().cast(pl.Int64).alias("u_deg"),
        (~pl.col("_seen")).sum().cast(pl.Int64).alias("u_new_dsts"),
    )
    user_src = (
        events.filter((pl.col("src_host") != pl.col("dst_host")) & _PERSON)
        .select("src_user", "src_host")
        .unique()
    )
    return {
        "pairs": pairs,
        "src": src,
        "dst": dst,
        "user_dst": user_dst,
        "users": users,
        "user_src": user_src,
        "sessions": _sessions(events),
    }


def _sessions(events: pl.LazyFrame) -> pl.LazyFrame:
    """(src_user, host) of the sessions opened in the window (none without logon types)."""
    names = events.collect_schema().names()
    if not {"logon_type", "orientation"} <= set(names):
        return pl.LazyFrame(schema={"src_user": pl.String(), "host": pl.String()})
    ok = pl.col("success").fill_null(True) if "success" in names else pl.lit(True)
    return (
        events.filter(
            pl.col("logon_type").is_in(SESSION_LOGON_TYPES)
            & (pl.col("orientation") == "LogOn")
            & ok
        )
        .select("src_user", pl.col("dst_host").alias("host"))
        .unique()
    )


def _window_of(edges: pl.DataFrame, events: pl.DataFrame) -> int:
    _require(edges, EDGE_INPUT_COLUMNS, "edge")
    _require(events, EVENT_INPUT_COLUMNS, "event")
    windows = edges["window"].unique()
    if windows.len() != 1:
        raise ValueError(f"edges must hold exactly one window, got {windows.len()}")
    return int(windows[0])


def _user_features(
    history: History,
    events: pl.LazyFrame,
    summary_users: pl.LazyFrame,
    sessions: pl.LazyFrame,
    window: int,
) -> pl.LazyFrame:
    """Per edge: novelty of its users towards its destination and their breadth now vs.
    usual; its people's accounts never used from its source, and of those the ones with no
    session on it."""
    users = summary_users.join(history.users.lazy(), on="src_user", how="left").with_columns(
        _ratio(pl.col("u_deg_sum"), pl.col("u_windows")).alias("_usual")
    )
    recent = history.sessions.lazy().filter(pl.col("ss_last") >= window - SESSION_WINDOWS)
    present = pl.concat([recent.select("src_user", "host"), sessions]).unique()
    per_user = (
        events.select("src_host", "dst_host", "src_user")
        .unique()
        .join(
            history.user_dst.lazy().select("src_user", "dst_host", "ud_windows"),
            on=["src_user", "dst_host"],
            how="left",
        )
        .join(users.select("src_user", "u_deg", "u_new_dsts", "_usual"), on="src_user", how="left")
        .join(
            history.user_src.lazy().select("src_user", "src_host", "us_windows"),
            on=["src_user", "src_host"],
            how="left",
        )
        .join(
            present.with_columns(pl.lit(True).alias("_here")),
            left_on=["src_user", "src_host"],
            right_on=["src_user", "host"],
            how="left",
        )
        .with_columns(
            (
                _PERSON
                & pl.col("us_windows").is_null()
                & (pl.col("src_host") != pl.col("dst_host"))
            ).alias("_new_src")
        )
    )
    return per_user.group_by("src_host", "dst_host").agg(
        pl.col("ud_windows").is_null().sum().cast(pl.Int64).alias("users_new_to_dst"),
        pl.col("ud_windows").fill_null(0).min().alias("user_dst_windows"),
        pl.col("u_deg").max().alias("user_dsts_now"),
        pl.col("u_new_dsts").max().alias("user_new_dsts"),
        pl.col("_usual").sort_by("u_new_dsts", "src_user").last().alias("user_dsts_usual"),
        pl.col("_new_src").sum().cast(pl.Int64).alias("users_new_from_src"),
        (pl.col("_new_src") & pl.col("_here").is_null())
        .sum()
        .cast(pl.Int64)
        .alias("users_new_from_src_no_session"),
    )


def _host_stats(history: History, prefix: str) -> pl.LazyFrame:
    """History per host under ``prefix`` (``src_`` or ``dst_``), keyed ``{prefix}host``."""
    h = pl.col
    return history.hosts.lazy().select(
        h("host").alias(f"{prefix}host"),
        _ratio(h("s_deg_sum"), h("s_windows")).alias(f"{prefix}_out_usual"),
        _ratio(h("s_users_sum"), h("s_windows")).alias(f"{prefix}_users_usual"),
        _ratio(h("s_failures"), h("s_events")).alias(f"{prefix}_fail_hist"),
        _ratio(h("d_deg_sum"), h("d_windows")).alias(f"{prefix}_in_usual"),
        h("s_distinct").alias(f"{prefix}_s_distinct"),
        h("d_distinct").alias(f"{prefix}_d_distinct"),
        h("s_windows").alias(f"{prefix}_s_windows"),
        h("d_windows").alias(f"{prefix}_d_windows"),
        _ratio(h("d_distinct"), h("d_distinct") + h("s_distinct")).alias(f"{prefix}_role"),
    )


def edge_features(
    history: History, edges: pl.DataFrame, events: pl.DataFrame
) -> tuple[pl.DataFrame, WindowSummary]:
    """Features for every edge of one window from the history strictly before it.

    Args:
        history: aggregates of the windows before ``edges``' window.
        edges: one window's edge-table rows (:data:`EDGE_INPUT_COLUMNS`).
        events: the same window's auth events (:data:`EVENT_INPUT_COLUMNS`).

    Returns:
        ``(frame, summary)``: the frame has ``window, src_host, dst_host`` and every
        name in :data:`FEATURES` (Float64, NaN where history is missing), rows in the
        order of ``edges``; ``summary`` feeds :func:`models.xgb.features.history.advance`.
    """
    window = _window_of(edges, events)
    ev = events.lazy()
    plan = _summary_plan(history, edges.lazy(), ev)
    c = pl.col
    cnt = c("count").cast(pl.Float64)
    base = (
        edges.lazy()
        .select(
            *KEYS,
            c("count"),
            c("n_users"),
            (c("failures") / cnt).alias("failure_ratio"),
            (c("n_kerberos") / cnt).alias("frac_kerberos"),
            (c("n_ntlm") / cnt).alias("frac_ntlm"),
            (c("n_negotiate") / cnt).alias("frac_negotiate"),
            (c("n_network") / cnt).alias("frac_network"),
            (c("n_interactive") / cnt).alias("frac_interactive"),
            (c("n_remote_interactive") / cnt).alias("frac_remote_interactive"),
            (c("n_service") / cnt).alias("frac_service"),
            ((c("first_time") // 3600) % 24).alias("hour"),
            ((c("first_time") // 86400) % 7).alias("weekday"),
        )
        .with_row_index("_row")
    )
    src_hist = _host_stats(history, "src_")
    dst_hist = _host_stats(history, "dst_")
    out = (
        base.join(history.pairs.lazy(), on=["src_host", "dst_host"], how="left")
        .join(plan["src"], on="src_host", how="left")
        .join(plan["dst"], on="dst_host", how="left")
        .join(src_hist, on="src_host", how="left")
        .join(dst_hist, on="dst_host", how="left")
        .join(
            _user_features(history, ev, plan["users"], plan["sessions"], window),
            on=["src_host", "dst_host"],
            how="left",
        )
        .sort("_row")
    )
    feats = out.select(
        *KEYS,
        *(c(n) for n in FEATURES[:12]),
        c("p_windows").is_not_null().cast(pl.Int64).alias("pair_seen"),
        c("p_windows").fill_null(0).alias("pair_windows"),
        c("p_events").fill_null(0).alias("pair_events"),
        (c("window") - c("p_last")).alias("windows_since_pair"),
        c("out_degree").alias("src_out_degree"),
        c("src__out_usual").alias("src_out_degree_usual"),
        c("new_dsts").alias("src_new_dsts"),
        c("src__s_distinct").fill_null(0).alias("src_hist_dsts"),
        c("src_users"),
        c("src__users_usual").alias("src_users_usual"),
        c("src__fail_hist").alias("src_failure_ratio_hist"),
        c("src__s_windows").fill_null(0).alias("src_hist_windows"),
        c("src__role").alias("src_server_role"),
        c("in_degree").alias("dst_in_degree"),
        c("dst__in_usual").alias("dst_in_degree_usual"),
        c("new_srcs").alias("dst_new_srcs"),
        c("dst__d_distinct").fill_null(0).alias("dst_hist_srcs"),
        c("dst__d_windows").fill_null(0).alias("dst_hist_windows"),
        c("dst__role").alias("dst_server_role"),
        c("users_new_to_dst").fill_null(0),
        c("user_dst_windows").fill_null(0),
        c("user_dsts_now"),
        c("user_new_dsts"),
        c("user_dsts_usual"),
        c("users_new_from_src").fill_null(0),
        c("users_new_from_src_no_session").fill_null(0),
    )
    feats = feats.with_columns([c(n).cast(pl.Float64).fill_null(float("nan")) for n in FEATURES])
    frames = pl.collect_all([feats, *plan.values()])
    summary = WindowSummary(window, **dict(zip(plan, frames[1:], strict=True)))
    return frames[0], summary


def window_summary(
    history: History, window: int, edges: pl.DataFrame, events: pl.DataFrame
) -> WindowSummary:
    """The :class:`WindowSummary` of one window's (possibly filtered) edges and events
    without computing features: what :func:`models.xgb.features.history.advance` folds in
    when the quarantine leaves some of the window's pairs out."""
    plan = _summary_plan(history, edges.lazy(), events.lazy())
    frames = pl.collect_all(list(plan.values()))
    return WindowSummary(int(window), **dict(zip(plan, frames, strict=True)))


def empty_features() -> pl.DataFrame:
    """A feature frame with no rows (keys + :data:`FEATURES`)."""
    schema = {"window": pl.Int64, "src_host": pl.String, "dst_host": pl.String}
    return pl.DataFrame(schema={**schema, **dict.fromkeys(FEATURES, pl.Float64)})


def feature_matrix(frame: pl.DataFrame):
    """The :data:`FEATURES` columns of a feature frame as a float32 numpy array ``[n, F]``."""
    return frame.select(FEATURES).to_numpy().astype("float32", copy=False)
