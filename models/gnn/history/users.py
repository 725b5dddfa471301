"""Which accounts authenticate on each edge, and what they did before.

Edges aggregate accounts, but lateral movement shows in the accounts: a
credential used from a host it never came from, to a host it never reached.
For every scored pair this module gives user-history features computed from
windows strictly before the current one. A corrupted (negative) pair keeps the
accounts of the edge it was made from, so "these accounts, this source, this
destination" is a well-defined question for it too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from models.gnn.history.pairs import PairHistory

if TYPE_CHECKING:
    import polars as pl

#: Names of the user-history features of a pair (means over the edge's accounts).
USER_FEATURES: tuple[str, ...] = (
    "user_new_from_src",
    "user_new_to_dst",
    "user_new_anywhere",
    "user_src_hosts",
    "user_dst_hosts",
    "user_new_both",
    "user_session_src",
)

#: Logon types that open a session *on* the host (someone at its console, or an RDP
#: session), as opposed to a network logon to it.
SESSION_LOGON_TYPES: tuple[str, ...] = (
    "Interactive",
    "RemoteInteractive",
    "Unlock",
    "CachedInteractive",
)
#: Account-name prefix of null sessions (no credential: left out of the account history).
ANONYMOUS = "ANONYMOUS LOGON@"
#: Half-life of "the account has a session on the source host" (twelve hours: a workday).
SESSION_HALF_LIFE_SECONDS = 12 * 3_600


class EdgeUsers:
    """Accounts per edge of one window in CSR form (edges in batch order).

    Attributes:
        ptr: shape [E + 1]; accounts of edge ``e`` are ``users[ptr[e]:ptr[e + 1]]``.
        users: account ids, shape [sum of accounts].
        sessions: (account ids, host ids) that opened a session on a host in this window
            (an interactive, remote-interactive or unlock logon; see :func:`session_rows`).
    """

    def __init__(
        self,
        ptr: np.ndarray,
        users: np.ndarray,
        sessions: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        self.ptr = ptr
        self.users = users
        self._rows: tuple[np.ndarray, ...] | None = None
        self._rows_of: tuple[np.ndarray, np.ndarray] | None = None
        empty = np.zeros(0, dtype=np.int64)
        self.sessions = (empty, empty) if sessions is None else sessions

    @classmethod
    def empty(cls, n_edges: int) -> EdgeUsers:
        """No accounts known for any edge."""
        return cls(np.zeros(n_edges + 1, dtype=np.int64), np.zeros(0, dtype=np.int64))

    @classmethod
    def build(
        cls,
        src: np.ndarray,
        dst: np.ndarray,
        row_src: np.ndarray,
        row_dst: np.ndarray,
        user,
        sessions: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> EdgeUsers:
        """Group (src, dst, user) rows under the window's edges (src[e], dst[e]).

        The (account, host) rows of every edge (:meth:`edge_rows`) are computed here,
        when the window is read, for the scoring and the history update to share.
        """
        keys = PairHistory.key(src, dst)
        if not len(keys):
            return cls(np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int64), sessions)
        row_keys = PairHistory.key(row_src, row_dst)
        order = np.argsort(keys, kind="stable")
        pos = np.minimum(np.searchsorted(keys[order], row_keys), len(keys) - 1)
        ok = keys[order][pos] == row_keys
        edge = order[pos[ok]]
        users = np.asarray(user, dtype=np.int64)[ok]
        counts = np.bincount(edge, minlength=len(keys))
        ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        out = cls(ptr, users[np.argsort(edge, kind="stable")], sessions)
        out.edge_rows(src, dst)
        return out

    def subset(self, keep: np.ndarray, src: np.ndarray, dst: np.ndarray) -> EdgeUsers:
        """The accounts of the kept edges (``keep``: mask over the window's edges ``src``,
        ``dst``); sessions that a dropped edge opened (its accounts on its destination,
        an RDP hop say) are dropped with it."""
        counts = self.ptr[1:] - self.ptr[:-1]
        rows = np.repeat(keep, counts)
        ptr = np.concatenate([[0], np.cumsum(counts[keep])]).astype(np.int64)
        su, sh = self.sessions
        if len(su) and not keep.all():
            q, u = self.expand(np.flatnonzero(~keep))
            dropped = PairHistory.key(u, dst[~keep][q])
            stay = ~np.isin(PairHistory.key(su, sh), dropped)
            su, sh = su[stay], sh[stay]
        out = EdgeUsers(ptr, self.users[rows], (su, sh))
        out.edge_rows(src[keep], dst[keep])
        return out

    def expand(self, edge_index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(query index, account) rows for queries that each name an edge of the window."""
        counts = self.ptr[edge_index + 1] - self.ptr[edge_index]
        q = np.repeat(np.arange(len(edge_index)), counts)
        starts = np.repeat(self.ptr[edge_index], counts)
        offs = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        return q, self.users[starts + offs]

    def edge_rows(self, src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, ...]:
        """Rows (edge, account, (account, src) key, (account, dst) key, src != dst) of every edge.

        ``src``, ``dst``: the window's edges (the ones the accounts were grouped under).
        Cached for those arrays.
        """
        cached = self._rows_of
        if self._rows is None or cached is None or cached[0] is not src or cached[1] is not dst:
            q, u = self.expand(np.arange(len(self.ptr) - 1))
            s, d = src[q], dst[q]
            self._rows = (q, u, PairHistory.key(u, s), PairHistory.key(u, d), s != d)
            self._rows_of = (src, dst)
        return self._rows


class UserHistory:
    """Per account: hosts it authenticated from and to, and hosts it had a session on.

    Args:
        window_seconds: window size (for the decay of the session feature).
    """

    def __init__(self, window_seconds: int = 1800) -> None:
        self.window_seconds = window_seconds
        self.from_src = PairHistory()
        self.to_dst = PairHistory()
        self.sessions = PairHistory()  # (account, host): last window with a session on it
        self.n_src = np.zeros(0, dtype=np.float64)
        self.n_dst = np.zeros(0, dtype=np.float64)

    def _grow(self, n: int) -> None:
        if n > len(self.n_src):
            extra = n - len(self.n_src)
            self.n_src = np.concatenate([self.n_src, np.zeros(extra)])
            self.n_dst = np.concatenate([self.n_dst, np.zeros(extra)])

    def features(
        self,
        users: EdgeUsers,
        edge_index: np.ndarray | None,
        src: np.ndarray,
        dst: np.ndarray,
        window: int | None = None,
    ) -> np.ndarray:
        """User-history features [B, U] of pairs (src, dst) carrying the accounts of edges.

        ``edge_index`` names the edge whose accounts each pair carries; ``None``: the
        pairs are the window's own edges (``src``, ``dst`` are its arrays), in order.
        ``window`` is the window being scored (``users``' window): the session feature
        decays from the accounts' earlier sessions on the source up to it; without it only
        sessions opened in this window count.
        """
        out = np.zeros((len(src), len(USER_FEATURES)), dtype=np.float32)
        if edge_index is None:
            q, u, key_src, key_dst, _ = users.edge_rows(src, dst)
        else:
            q, u = users.expand(edge_index)
            key_src = key_dst = None
        if not len(q):
            return out
        self._grow(int(u.max()) + 1)
        if key_src is None:
            key_src, key_dst = PairHistory.key(u, src[q]), PairHistory.key(u, dst[q])
        n_from, _ = self.from_src.lookup_keys(key_src)
        n_to, _ = self.to_dst.lookup_keys(key_dst)
        cnt = np.bincount(q, minlength=len(src)).astype(np.float64)
        has = cnt > 0

        def mean(v: np.ndarray) -> np.ndarray:
            s = np.bincount(q, weights=v.astype(np.float64), minlength=len(src))
            return np.divide(s, cnt, out=np.zeros_like(s), where=has)

        # "New from/to" only for accounts with a history: a brand-new account (a new
        # hire's first logons) is new everywhere, which says nothing about the pair.
        known = (self.n_src[u] + self.n_dst[u]) > 0
        # Someone with this account sits at the source (an interactive or RDP session on
        # it, now or within the half-life): a person using a host, e.g. a hot desk, rather
        # than a credential carried there and used over the network. Such an account counts
        # as used from the source.
        session = self._session(users, key_src, window)
        new_from = (n_from == 0) & known & (session < 0.5)
        out[:, 0] = mean(new_from)
        out[:, 1] = mean((n_to == 0) & known)
        out[:, 2] = mean(~known)
        out[:, 3] = mean(np.log1p(self.n_src[u]))
        out[:, 4] = mean(np.log1p(self.n_dst[u]))
        # A known credential that neither came from this source nor reached this
        # destination before: stolen, carried to a new host and used from there.
        out[:, 5] = mean(new_from & (n_to == 0))
        out[:, 6] = mean(session)
        return out

    def _session(self, users: EdgeUsers, key: np.ndarray, window: int | None) -> np.ndarray:
        """Per (account, host) key: 0.5 ** (age of its latest session on the host / half-life)."""
        now = np.isin(key, PairHistory.key(*users.sessions))
        if window is None:
            return now.astype(np.float64)
        _, last = self.sessions.lookup_keys(key)
        last = np.where(now, window, last)
        age = np.maximum(window - last, 0) * self.window_seconds / SESSION_HALF_LIFE_SECONDS
        return np.where(last >= 0, 0.5**age, 0.0)

    def observe(self, users: EdgeUsers, src: np.ndarray, dst: np.ndarray, window: int) -> None:
        """Fold one window's (account, src), (account, dst) and session pairs in.

        "Used from a source" counts only edges to another host: a self-loop (local
        logon, logoff) shows where an account *is*, not where it authenticated from.
        """
        q, u, key_src, key_dst, moved = users.edge_rows(src, dst)
        if not len(q):
            return
        self._grow(int(u.max()) + 1)
        for hist, keys, counts, uu in (
            (self.from_src, key_src[moved], self.n_src, u[moved]),
            (self.to_dst, key_dst, self.n_dst, u),
        ):
            # A pair repeated in the window counts once (the table flags its first occurrence).
            new = hist.add_keys(keys, window)
            counts += np.bincount(uu[new], minlength=len(counts))
        su, sh = users.sessions
        if len(su):
            self.sessions.add_keys(PairHistory.key(su, sh), window)


def user_rows(events: pl.DataFrame, host_ids: pl.DataFrame, user_ids: dict[str, int]):
    """(window, src, dst, user) id arrays of distinct event rows; extends ``user_ids``.

    ``ANONYMOUS LOGON`` rows are left out: a null session carries no credential, so it
    says nothing about where an account is used from (counted as one, every null
    session to a new host looked like a stolen account used from a new source).

    Args:
        events: ``window``, ``src_user``, ``src_host``, ``dst_host`` columns.
        host_ids: ``host``, ``node_id`` (the node index).
        user_ids: account -> id, grown in place with unseen accounts.
    """
    import polars as pl

    rows = (
        events.select("window", "src_user", "src_host", "dst_host")
        .filter(~pl.col("src_user").fill_null("").str.to_uppercase().str.starts_with(ANONYMOUS))
        .unique()
    )
    ids = host_ids.select(pl.col("host"), pl.col("node_id"))
    rows = rows.join(ids.rename({"host": "src_host", "node_id": "src"}), on="src_host")
    rows = rows.join(ids.rename({"host": "dst_host", "node_id": "dst"}), on="dst_host")
    names = rows["src_user"].fill_null("?")
    for name in names.unique(maintain_order=True).to_list():
        if name not in user_ids:
            user_ids[name] = len(user_ids)
    ids = pl.DataFrame(
        {"src_user": list(user_ids), "_uid": list(user_ids.values())},
        schema={"src_user": pl.String(), "_uid": pl.Int64()},
    )
    user = (
        names.to_frame("src_user")
        .join(ids, on="src_user", how="left", maintain_order="left")["_uid"]
        .to_numpy()
        .astype(np.int64)
    )
    return (
        rows["window"].to_numpy().astype(np.int64),
        rows["src"].to_numpy().astype(np.int64),
        rows["dst"].to_numpy().astype(np.int64),
        user,
    )


def session_rows(events: pl.DataFrame, host_ids: pl.DataFrame, user_ids: dict[str, int]):
    """(window, host, user) id arrays of the sessions opened on hosts; extends ``user_ids``.

    A session is a successful LogOn of a :data:`SESSION_LOGON_TYPES` type; its host is
    the destination (for RDP, the host logged on to).

    Args:
        events: ``window``, ``src_user``, ``src_host``, ``dst_host``, ``logon_type``,
            ``orientation``, ``success`` columns.
        host_ids: ``host``, ``node_id`` (the node index).
        user_ids: account -> id, grown in place with unseen accounts.
    """
    import polars as pl

    logons = events.filter(
        pl.col("logon_type").is_in(SESSION_LOGON_TYPES)
        & (pl.col("orientation") == "LogOn")
        & pl.col("success").fill_null(True)
    )
    window, _, host, user = user_rows(logons, host_ids, user_ids)
    return window, host, user
