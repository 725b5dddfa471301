"""The stable node index: host name -> dense integer id, append-only.

Ids are assigned in order of first appearance (first window, ties by host
name) and never renumbered, so a model trained on one data directory can score
a later directory whose index is a superset. Persisted as ``nodes.parquet``
with columns ``host`` (String), ``node_id`` (Int64), ``first_window`` (Int64).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

NODES_SCHEMA: pl.Schema = pl.Schema(
    {"host": pl.String(), "node_id": pl.Int64(), "first_window": pl.Int64()}
)


class NodeIndex:
    """An append-only host -> node id mapping.

    Args:
        frame: an existing index (``host``, ``node_id``, ``first_window``) whose ids
            must be exactly ``0 .. n-1``; ``None`` starts empty.
    """

    def __init__(self, frame: pl.DataFrame | None = None) -> None:
        if frame is None:
            frame = pl.DataFrame(schema=NODES_SCHEMA)
        missing = [c for c in NODES_SCHEMA if c not in frame.columns]
        if missing:
            raise ValueError(f"node index lacks column(s): {', '.join(missing)}")
        frame = frame.select([pl.col(c).cast(t) for c, t in NODES_SCHEMA.items()]).sort("node_id")
        ids = frame["node_id"]
        if frame.height and (ids.to_list() != list(range(frame.height))):
            raise ValueError("node index ids are not dense 0..n-1")
        if frame["host"].n_unique() != frame.height:
            raise ValueError("node index has duplicate hosts")
        self._frame = frame
        self._enum: pl.Enum | None = None  # hosts in node-id order, built on demand

    def _dtype(self) -> pl.Enum:
        """An Enum whose physical codes are the node ids."""
        if self._enum is None:
            self._enum = pl.Enum(self._frame["host"])
        return self._enum

    @classmethod
    def read(cls, path: str | Path) -> NodeIndex:
        """Load ``nodes.parquet`` (raises ``FileNotFoundError`` with the path)."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"node index not found: {path}")
        return cls(pl.read_parquet(path))

    def write(self, path: str | Path) -> None:
        """Persist the index as parquet."""
        self._frame.write_parquet(path)

    @property
    def frame(self) -> pl.DataFrame:
        """The index as a frame sorted by node id."""
        return self._frame

    def __len__(self) -> int:
        return self._frame.height

    def update(self, edges: pl.DataFrame) -> int:
        """Append hosts of ``edges`` (``window``, ``src_host``, ``dst_host``) not yet indexed.

        New hosts get ids in order of (first window, host name). Returns how many
        were added.
        """
        hosts = pl.concat([edges["src_host"], edges["dst_host"]]).unique()
        if self._frame.height and hosts.cast(self._dtype(), strict=False).null_count() == 0:
            return 0
        seen = (
            pl.concat(
                [
                    edges.select(pl.col("src_host").alias("host"), "window"),
                    edges.select(pl.col("dst_host").alias("host"), "window"),
                ]
            )
            .group_by("host")
            .agg(pl.col("window").min().alias("first_window"))
        )
        new = seen.join(self._frame.select("host"), on="host", how="anti").sort(
            "first_window", "host"
        )
        if new.height == 0:
            return 0
        start = self._frame.height
        new = new.with_columns(
            pl.int_range(start, start + new.height, dtype=pl.Int64).alias("node_id")
        ).select(list(NODES_SCHEMA))
        self._frame = pl.concat([self._frame, new])
        self._enum = None
        return new.height

    def attach(self, edges: pl.DataFrame) -> pl.DataFrame:
        """Add ``src`` and ``dst`` node-id columns to ``edges`` (hosts must be indexed).

        Raises:
            KeyError: a host of ``edges`` is not in the index.
        """
        dtype = self._dtype()
        out = edges.with_columns(
            pl.col("src_host").cast(dtype, strict=False).to_physical().cast(pl.Int64).alias("src"),
            pl.col("dst_host").cast(dtype, strict=False).to_physical().cast(pl.Int64).alias("dst"),
        )
        if out["src"].null_count() or out["dst"].null_count():
            unknown = out.filter(pl.col("src").is_null() | pl.col("dst").is_null()).row(0)
            raise KeyError(f"host not in node index (edge {unknown[:3]})")
        return out

    def ids(self, hosts: list[str] | pl.Series) -> pl.Series:
        """Node ids of ``hosts`` (null for unknown hosts), in the given order."""
        s = pl.Series("host", hosts, dtype=pl.String)
        return (
            s.to_frame()
            .join(
                self._frame.select("host", "node_id"), on="host", how="left", maintain_order="left"
            )
            .get_column("node_id")
        )
