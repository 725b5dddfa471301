"""Polars parse of LANL auth chunks into canonical events, with bad-line records.

A chunk of whole lines (:class:`ingest.lanl.files.Chunk`) is parsed strictly
when it is regular and tolerantly otherwise; malformed lines are counted per
reason (:data:`ingest.lanl.files.REASONS`), a few kept as examples, and dropped.

Polars is imported when a chunk is first parsed, not with the module: the fast path
(:mod:`ingest.lanl.fast`) starts reading before it needs Polars.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from ingest.lanl.files import MAX_EXAMPLES, BadLines, Chunk, _line_texts

if TYPE_CHECKING:
    import polars as pl

AUTH_FIELDS: tuple[str, ...] = (
    "time",
    "src_user",
    "dst_user",
    "src_host",
    "dst_host",
    "auth_type",
    "logon_type",
    "orientation",
    "success",
)
_STRING_FIELDS = AUTH_FIELDS[1:8]


@cache
def _raw_schema() -> dict:
    import polars as pl

    return {c: pl.String for c in (*AUTH_FIELDS, "_extra")} | {"time": pl.Int64}


def _reason_expr() -> pl.Expr:
    import polars as pl

    fields = [pl.col(c).is_null() for c in _STRING_FIELDS]
    time_text = pl.col("_time_raw")
    checks = [
        ("empty line", time_text.is_null() & pl.all_horizontal(fields)),
        ("too many columns", pl.col("_extra").is_not_null()),
        (
            "missing or empty field",
            pl.any_horizontal([*fields, pl.col("success").is_null(), time_text.is_null()]),
        ),
        ("non-integer time", pl.col("time").is_null()),
        ("negative time", pl.col("time") < 0),
        ("bad success value", ~pl.col("success").is_in(["Success", "Fail"])),
    ]
    expr = pl.lit(None, dtype=pl.String)
    for name, bad in reversed(checks):
        expr = pl.when(bad).then(pl.lit(name)).otherwise(expr)
    return expr


def _read_clean(data: bytes) -> pl.DataFrame | None:
    """Strict fast parse; ``None`` when the chunk has any irregular line.

    A chunk is regular when the strict parser accepts it (integer times, at most
    nine fields, valid UTF-8) and it has exactly eight commas per row (so no line
    is short, long or empty); value checks still follow in :func:`parse_chunk`.
    """
    import polars as pl

    try:
        raw = pl.read_csv(
            data,
            has_header=False,
            schema={k: v for k, v in _raw_schema().items() if k != "_extra"},
            quote_char=None,
            raise_if_empty=False,
            row_index_name="_row",
        )
    except (pl.exceptions.PolarsError, ValueError):
        return None
    if data.count(b",") != 8 * raw.height:
        return None
    return raw.with_columns(pl.lit(None, dtype=pl.String).alias("_extra"))


def _read_tolerant(data: bytes) -> pl.DataFrame:
    """Parse any chunk: bad fields become nulls, a 10th field lands in ``_extra``."""
    import polars as pl

    options = dict(
        has_header=False,
        schema=_raw_schema() | {"time": pl.String},
        quote_char=None,
        extra_columns="ignore",
        missing_columns="insert",
        ignore_errors=True,
        raise_if_empty=False,
        row_index_name="_row",
    )
    try:
        raw = pl.read_csv(data, encoding="utf8", **options)
    except pl.exceptions.ComputeError:  # invalid UTF-8 somewhere: replace, keep going
        raw = pl.read_csv(data, encoding="utf8-lossy", **options)
    return raw.with_columns(
        pl.col("time").alias("_time_raw"),
        pl.col("time").str.strip_chars().cast(pl.Int64, strict=False),
    )


def parse_chunk(chunk: Chunk, bad: BadLines) -> pl.DataFrame:
    """Parse one chunk into canonical events; count and sample malformed lines into ``bad``."""
    import polars as pl

    raw = _read_clean(chunk.data)
    if raw is None:
        raw = _read_tolerant(chunk.data)
    ok = (
        pl.col("time").is_not_null()
        & (pl.col("time") >= 0)
        & pl.col("_extra").is_null()
        & pl.col("success").is_in(["Success", "Fail"])
        & pl.all_horizontal([pl.col(c).is_not_null() for c in _STRING_FIELDS])
    )
    raw = raw.with_columns(ok.fill_null(False).alias("_ok"))
    n_bad = raw.height - int(raw["_ok"].sum())
    if n_bad:
        _record_bad(chunk, raw.filter(~pl.col("_ok")), bad)
        raw = raw.filter(pl.col("_ok"))
    return raw.select(
        pl.col("time"),
        *[pl.col(c) for c in _STRING_FIELDS],
        (pl.col("success") == "Success").alias("success"),
        pl.lit(chunk.source, dtype=pl.String).alias("source"),
        pl.lit(None, dtype=pl.Int32).alias("event_code"),
        pl.lit(None, dtype=pl.String).alias("logon_id"),
        pl.lit(None, dtype=pl.String).alias("src_ip"),
        (pl.col("_row").cast(pl.Int64) + chunk.first_line).alias("record"),
    )


def _record_bad(chunk: Chunk, rows: pl.DataFrame, bad: BadLines) -> None:
    import polars as pl

    if "_time_raw" not in rows.columns:
        rows = rows.with_columns(pl.col("time").cast(pl.String).alias("_time_raw"))
    tagged = rows.select("_row", _reason_expr().alias("_reason"))
    for reason, n in tagged.group_by("_reason").len().iter_rows():
        bad.add(reason, n)
    room = MAX_EXAMPLES - len(bad.examples)
    if room > 0:
        first = tagged.sort("_row").head(room)
        idx = first["_row"].to_list()
        for r, reason, text in zip(
            idx, first["_reason"], _line_texts(chunk.data, idx), strict=True
        ):
            bad.examples.append((chunk.source, chunk.first_line + r, reason, text))
