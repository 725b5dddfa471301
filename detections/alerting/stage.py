"""The alerting stage: detector scores and rule hits of one window -> alerts an analyst
can trust.

Per window (:meth:`AlertingStage.step`):

1. **Signals**: edges between two hosts that some detector scores at or above its
   threshold, and edges a rule fired on.
2. **Known-benign classes** (:mod:`~detections.alerting.suppress`): suppressed with
   the reason kept; stored, shown by a filter, never quarantined, never counted.
3. **Facts** (:mod:`~detections.alerting.facts`): each remaining signal's score is the
   detectors' evidence plus the weights of the facts of the logs around it (first
   contact, an account never used from the source, several accounts from one source,
   a domain controller, NTLM where Kerberos is usual, off-hours, rules, ...).
4. **Campaign candidates**: signals of the last ``span`` seconds that share a person's
   account, continue a chain of hosts (one's destination is the next one's source), or
   use different never-seen accounts from one source, are one candidate; its score
   adds its members' (the strongest counts whole, the next ones half) and the length
   of the path.
5. **Alerts**: a signal becomes an alert when its own score or its candidate's reaches
   ``low``; severity comes from the candidate's score (bands ``low`` < ``medium`` <
   ``high`` < ``critical``, calibrated on development seeds so that high and critical
   are precise). A repeat of a pair with an open alert updates that alert (first and
   last time, occurrences) instead of opening another.
6. **Quarantine**: the pairs of this window's alerts are held
   (:class:`models.quarantine.Quarantine`), so no detector learns them while the
   alert is open; then the window is folded into the stage's own history.

The stage is the same object in batch evaluation (:mod:`~detections.alerting.batch`)
and in the service; its state (history, open alerts, recent signals) advances one
window at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from detections.alerting.candidates import Links, Signal, candidate_score, detector_evidence
from detections.alerting.context import LogContext, is_anonymous, is_machine
from detections.alerting.facts import Fact, edge_facts, rule_facts, span
from detections.alerting.suppress import RECLASSIFY, Suppression, VerdictBook, known_benign
from detections.alerts import SEVERITIES, AlertRecord, RuleHitRecord, alert_key
from models.quarantine import Quarantine

KEYS = ("window", "src_host", "dst_host")
#: Explanation row holding the detectors' evidence until it is spread over the facts.
DETECTORS_ROW = "detectors"


@dataclass(frozen=True)
class StageConfig:
    """Knobs of the alerting stage (defaults chosen on development seeds 31-33).

    Attributes:
        span_seconds: longest gap between two linked signals of a campaign candidate.
        bands: lowest candidate score of ``low``, ``medium``, ``high``, ``critical``.
        member_floor: lowest own score of a signal alerted as a member of a candidate.
        max_occurrences: occurrences kept per alert (the first ones).
    """

    span_seconds: int = 8 * 3600
    bands: tuple[float, float, float, float] = (4.0, 6.0, 8.0, 11.0)
    member_floor: float = 2.0
    max_occurrences: int = 500

    def severity(self, score: float) -> str | None:
        """The severity of a candidate score, or None below ``low``."""
        level = None
        for name, bar in zip(SEVERITIES, self.bands, strict=True):
            if score >= bar:
                level = name
        return level


@dataclass
class AlertingStage:
    """Scores and rule hits of one window at a time -> alert records (see module doc).

    Args:
        thresholds: detector -> score at or above which an edge is a signal.
        window_seconds: window size of the data.
        config: the stage's knobs.
        quarantine: the timeline of held pairs shared with the detectors.
        verdicts: analysts' ``false_positive`` patterns.
    """

    thresholds: Mapping[str, float]
    window_seconds: int = 1800
    config: StageConfig = field(default_factory=StageConfig)
    quarantine: Quarantine = field(default_factory=Quarantine)
    verdicts: VerdictBook = field(default_factory=VerdictBook)
    context: LogContext | None = None
    records: dict[str, AlertRecord] = field(default_factory=dict)
    open_pairs: dict[tuple[str, str], str] = field(default_factory=dict)
    signals: list[Signal] = field(default_factory=list)
    touched: set[str] = field(default_factory=set)
    _links: Links = field(default_factory=Links)
    _next: int = 0

    def __post_init__(self) -> None:
        if self.context is None:
            self.context = LogContext(self.window_seconds)

    # -- state from earlier runs -----------------------------------------------------------
    def remember(self, records: Iterable[AlertRecord]) -> None:
        """Seed the stage with open alerts of earlier windows (from the store): repeats of
        their pairs join them, and new signals can link to them into a campaign."""
        for rec in sorted(records, key=lambda r: (r.time, r.key)):
            pair = (rec.src_host, rec.dst_host)
            self.open_pairs.setdefault(pair, rec.key)
            self.records[rec.key] = rec
            if rec.suppressed:
                continue
            kinds = {str(r.get("feature")) for r in rec.explanation}
            sig = Signal(
                id=self._next, window=rec.window, time=rec.time, last_time=rec.last_time,
                src=rec.src_host, dst=rec.dst_host, accounts=list(rec.users),
                scores=dict(rec.scores), hits=[], facts=[], evidence=0.0, score=rec.stage_score,
                stolen="account_new_to_source" in kinds, present="logged_on_at_source" in kinds,
                key=rec.key, candidate_score=rec.stage_score, emitted=True,
            )  # fmt: skip
            self._next += 1
            self._link(sig)

    # -- windows without scores (history only) -------------------------------------------
    def skip(self, window: int, events: pl.DataFrame) -> None:
        """Fold a window that is not scored (training history) into the stage's history."""
        assert self.context is not None
        self.context.observe(window, events)
        self.context.advance(window, events, self.quarantine)

    # -- one scored window -----------------------------------------------------------------
    def step(
        self,
        window: int,
        *,
        scores: Mapping[str, pl.DataFrame],
        edges: pl.DataFrame,
        events: pl.DataFrame,
        rule_hits: Iterable[Any] = (),
    ) -> list[AlertRecord]:
        """Alerts opened or updated by ``window`` (suppressed ones included, marked).

        Call once per window, in order, before the detectors fold the window in (the
        pairs of the returned alerts are held from this window on).
        """
        ctx = self.context
        assert ctx is not None
        window = int(window)
        act = ctx.observe(window, events)
        per_edge: dict[tuple[str, str], dict[str, float]] = {}
        for name, frame in scores.items():
            hot = frame.filter(pl.col("score") >= self.thresholds.get(name, 1.01))
            for _, s, d, sc in hot.select(*KEYS, "score").iter_rows():
                per_edge.setdefault((s, d), {})[name] = float(sc)
        hits: dict[tuple[str, str], list[RuleHitRecord]] = {}
        for h in (RuleHitRecord.from_obj(x) for x in rule_hits):
            dst = h.dst_host or h.host
            if dst:
                hits.setdefault((h.src_host or dst, dst), []).append(h)
        info = _edge_info(edges)
        tickets = _tickets_only(edges)
        touched: dict[str, AlertRecord] = {}
        for pair in sorted(set(per_edge) | set(hits)):
            src, dst = pair
            accounts = act.edge_accounts.get(pair) or _accounts_of(events, src, dst)
            every = _all_scores(scores, src, dst)
            ph = hits.get(pair, [])
            t0, t1, ntlm = info.get(
                pair, (window * self.window_seconds, window * self.window_seconds, 0.0)
            )
            if ph:
                t0 = min(t0, min(h.time for h in ph))
            why = known_benign(
                ctx, window=window, src=src, dst=dst, accounts=accounts,
                verdicts=self.verdicts, tickets_only=tickets.get(pair, False),
            )  # fmt: skip
            if why is not None and not (ph and why.kind != "verdict"):
                rec = self._suppressed(window, pair, t0, t1, accounts, every, ph, why)
                touched[rec.key] = rec
                continue
            facts = edge_facts(
                ctx, window=window, time=t0, src=src, dst=dst, accounts=accounts, ntlm=ntlm,
                quarantine=self.quarantine,
            )  # fmt: skip
            facts += rule_facts(ph)
            sig = self._signal(window, t0, t1, pair, accounts, every, ph, facts)
            for rec in self._place(sig):
                touched[rec.key] = rec
        for rec in touched.values():
            self.touched.add(rec.key)
            if not rec.suppressed:
                self.quarantine.hold([(rec.src_host, rec.dst_host)], window=window)
        ctx.advance(window, events, self.quarantine)
        self._forget(window)
        return sorted(touched.values(), key=lambda r: (r.time, r.key))

    # -- internals ---------------------------------------------------------------------
    def _signal(self, window, t0, t1, pair, accounts, every, hits, facts) -> Signal:
        evidence = detector_evidence(every, self.thresholds) + (2.0 if hits else 0.0)
        present = any(f.kind == "logged_on_at_source" for f in facts)
        chain, prev = self._chain_fact(pair[0], t0, accounts, present)
        if chain is not None:
            facts.append(chain)
        score = evidence + sum(f.weight for f in facts)
        sig = Signal(
            id=self._next, window=window, time=t0, last_time=max(t1, t0), src=pair[0],
            dst=pair[1], accounts=list(accounts), scores=every, hits=list(hits), facts=facts,
            evidence=evidence, score=score,
            stolen=any(f.kind == "account_new_to_source" for f in facts), present=present,
        )  # fmt: skip
        self._next += 1
        if prev is not None and sig.stolen and not any(f.kind == "chain_next" for f in prev.facts):
            # The hop that brought the attacker to the source is part of the chain too.
            who = ", ".join(sig.people[:2]) or "an account"
            later = span(max((t0 - prev.last_time) // self.window_seconds, 0), self.window_seconds)
            nxt = Fact(
                "chain_next", "campaign",
                f"{prev.dst} then reached {sig.dst} {later} later with {who}, never used "
                f"from {prev.dst} before", sig.dst, 2.0,
            )  # fmt: skip
            prev.facts.append(nxt)
            prev.score += nxt.weight
        return sig

    def _chain_fact(
        self, src: str, t0: int, accounts: Sequence[str], present: bool
    ) -> tuple[Fact | None, Signal | None]:
        span_s = self.config.span_seconds
        into = [
            s
            for s in self.signals
            if s.dst == src
            and 0 <= t0 - s.last_time <= span_s
            and _chains(s, present, set(s.people) & set(accounts))
        ]
        if not into:
            return None, None
        prev = max(into, key=lambda s: s.last_time)
        ago = span(max((t0 - prev.last_time) // self.window_seconds, 0), self.window_seconds)
        fact = Fact(
            "chain",
            "campaign",
            f"{src} was itself reached from {prev.src} {ago} earlier (flagged then)",
            prev.src,
            2.0,
        )
        return fact, prev

    def _place(self, sig: Signal) -> list[AlertRecord]:
        """Link the signal to its candidate, score the candidate, emit what reaches ``low``."""
        self._link(sig)
        root = self._links.find(sig.id)
        members = [s for s in self.signals if self._links.find(s.id) == root]
        out = []
        strong = [m for m in members if m.score >= self.config.member_floor]
        cand = candidate_score(strong) if strong else sig.score
        for m in members:
            own = m.score
            if len(strong) > 1 and own >= self.config.member_floor:
                m.candidate_score = max(m.candidate_score, cand)
            level = self.config.severity(max(own, m.candidate_score))
            if level is None:
                continue
            out.append(self._emit(m, level))
        return out

    def _link(self, sig: Signal) -> None:
        """Union ``sig`` with the recent signals it shares a campaign with; keep it."""
        span_s = self.config.span_seconds
        self._links.find(sig.id)
        for other in self.signals:
            if (
                abs(sig.time - other.last_time) > span_s
                and abs(other.time - sig.last_time) > span_s
            ):
                continue
            # A person's account links two signals only away from where that person is
            # logged on; a chain only when the later hop is not its own user's work (or
            # carries an account the earlier hop brought).
            carried = bool(set(sig.people) & set(other.people))
            shared = carried and not (sig.present or other.present)
            first, then = (other, sig) if other.time <= sig.time else (sig, other)
            chain = first.dst == then.src and _chains(first, then.present, carried)
            foothold = other.src == sig.src and sig.stolen and other.stolen
            if shared or chain or foothold:
                self._links.union(sig.id, other.id)
        self.signals.append(sig)

    def _emit(self, sig: Signal, level: str) -> AlertRecord:
        pair = (sig.src, sig.dst)
        key = sig.key or self.open_pairs.get(pair) or alert_key(sig.window, sig.src, sig.dst)
        sig.key, sig.emitted = key, True
        self.open_pairs.setdefault(pair, key)
        rec = self.records.get(key)
        if rec is None:
            rec = AlertRecord(
                key=key, window=sig.window, time=sig.time, last_time=sig.last_time,
                src_host=sig.src, dst_host=sig.dst, user=_pick(sig.accounts),
                users=list(dict.fromkeys(sig.accounts))[:50], scores=dict(sig.scores),
                severity=level,
            )  # fmt: skip
            self.records[key] = rec
        _merge(rec, sig, level, self.config.max_occurrences)
        return rec

    def _suppressed(self, window, pair, t0, t1, accounts, every, hits, why: Suppression):
        key = self.open_pairs.get(pair)
        rec = self.records.get(key) if key else None
        if rec is not None and not rec.suppressed and why.kind in RECLASSIFY:
            # Its later occurrences show the open alert's pair is routine: reclassify it
            # (kept, with the reason) and let the pair be learned from now on.
            rec.suppressed, rec.suppressed_reason = True, why.reason
            self.quarantine.release([pair], window=window)
        if rec is None or not rec.suppressed:
            key = alert_key(window, *pair)
            rec = self.records.get(key)
        if rec is None:
            rec = AlertRecord(
                key=key, window=window, time=t0, last_time=max(t0, t1), src_host=pair[0],
                dst_host=pair[1], user=_pick(accounts), users=list(accounts)[:50],
                scores=dict(every), severity="low", suppressed=True,
                suppressed_reason=why.reason,
            )  # fmt: skip
            self.records[key] = rec
            self.open_pairs[pair] = key
        rec.last_time = max(rec.last_time, t1)
        rec.time = min(rec.time, t0)
        if window not in rec.occurrences and len(rec.occurrences) < self.config.max_occurrences:
            rec.occurrences.append(window)
        for n, v in every.items():
            rec.scores[n] = max(rec.scores.get(n, 0.0), v)
        rec.rule_hits = sorted(
            {(h.time, h.rule_id): h for h in [*rec.rule_hits, *hits]}.values(),
            key=lambda h: (h.time, h.rule_id),
        )
        rec.explanation = [Fact(why.kind, "suppressed", why.reason, why.kind, 0.0).row()]
        return rec

    def _forget(self, window: int) -> None:
        """Drop signals older than the span (they can no longer link to new ones)."""
        horizon = (window + 1) * self.window_seconds - 2 * self.config.span_seconds
        keep = [s for s in self.signals if s.last_time >= horizon]
        if len(keep) != len(self.signals):
            self.signals = keep


def _merge(rec: AlertRecord, sig: Signal, level: str, most: int) -> None:
    rec.time = min(rec.time, sig.time)
    rec.last_time = max(rec.last_time, sig.last_time)
    if sig.window not in rec.occurrences and len(rec.occurrences) < most:
        rec.occurrences.append(sig.window)
    for n, v in sig.scores.items():
        rec.scores[n] = max(rec.scores.get(n, 0.0), v)
    rec.users = list(dict.fromkeys([*rec.users, *sig.accounts]))[:50]
    rec.user = rec.user or _pick(sig.accounts)
    if SEVERITIES.index(level) >= SEVERITIES.index(rec.severity):
        rec.severity = level
    score = max(sig.score, sig.candidate_score)
    if score >= rec.stage_score:
        rec.stage_score = round(score, 4)
        if sig.facts:  # a remembered alert (from the store) keeps its facts
            rec.explanation = _rows(sig)
    hits = {(h.time, h.rule_id): h for h in [*rec.rule_hits, *sig.hits]}
    rec.rule_hits = sorted(hits.values(), key=lambda h: (h.time, h.rule_id))
    rec.techniques = sorted({t for h in rec.rule_hits for t in h.attack})
    rec.evidence = list(dict.fromkeys(h.evidence for h in rec.rule_hits if h.evidence))[:20]


def _chains(first: Signal, then_present: bool, carried: bool) -> bool:
    """Whether a hop into a host and a later hop out of it are one chain: the later one is
    not its own user's work at that host, and the earlier one was not a person at their
    own desk reaching a server many reach (or an account went through both)."""
    if carried:
        return True
    return not then_present and not first.present


def _rows(sig: Signal) -> list[dict[str, Any]]:
    """The alert's explanation rows: its facts, the campaign's share when its candidate
    scores more than it alone, and the detectors' evidence as one ``detectors`` row
    that :func:`detections.alerting.batch.explain_alerts` spreads over the facts their
    explanations point at. The contributions add up to the stage score."""
    rows = [f.row() for f in sorted(sig.facts, key=lambda f: -abs(f.weight))]
    bonus = sig.candidate_score - sig.score
    if bonus > 1e-9:
        rows.append(
            Fact(
                "campaign",
                "campaign",
                "linked with other flagged activity (a shared account away from its owner's "
                "desk, a chain of hosts, or one source with several new accounts)",
                round(bonus, 4),
                round(bonus, 4),
            ).row()
        )
    if sig.evidence > 0:
        names = ", ".join(sorted(sig.scores)) or "rules"
        rows.append(
            {
                "feature": DETECTORS_ROW,
                "value": round(sig.evidence, 4),
                "contribution": round(sig.evidence, 4),
                "text": f"scored above the threshold by {names}",
                "group": DETECTORS_ROW,
            }
        )
    return rows


def _pick(accounts: Sequence[str]) -> str:
    people = [a for a in accounts if a and not is_machine(a) and not is_anonymous(a)]
    return (people or list(accounts) or [""])[0]


def _edge_info(edges: pl.DataFrame) -> dict[tuple[str, str], tuple[int, int, float]]:
    if edges.is_empty():
        return {}
    cols = ["src_host", "dst_host", "first_time", "last_time", "n_ntlm", "count"]
    out = {}
    for s, d, ft, lt, ntlm, n in edges.select(cols).iter_rows():
        out[(s, d)] = (int(ft), int(lt), float(ntlm) / max(float(n), 1.0))
    return out


def _tickets_only(edges: pl.DataFrame) -> dict[tuple[str, str], bool]:
    if edges.is_empty() or "n_tgs" not in edges.columns:
        return {}
    rows = edges.select(
        "src_host", "dst_host", (pl.col("n_tgs") + pl.col("n_tgt") >= pl.col("count"))
    )
    return {(s, d): bool(t) for s, d, t in rows.iter_rows()}


def _all_scores(scores: Mapping[str, pl.DataFrame], src: str, dst: str) -> dict[str, float]:
    out = {}
    for name, frame in scores.items():
        row = frame.filter((pl.col("src_host") == src) & (pl.col("dst_host") == dst))
        if row.height:
            out[name] = float(row["score"].max())
    return out


def _accounts_of(events: pl.DataFrame, src: str, dst: str) -> list[str]:
    if events.is_empty():
        return []
    rows = events.filter((pl.col("src_host") == src) & (pl.col("dst_host") == dst))
    return sorted(rows["src_user"].drop_nulls().unique().to_list())
