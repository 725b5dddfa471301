"""Analyst feedback read back from the alert store: the quarantine, the verdicts, the
open alerts.

The store is where verdicts land (``PATCH /alerts/{id}``), so the alerting stage and the
detectors of the next window learn them from here (:func:`load_feedback`):

* an open alert (not closed, no verdict) holds its pair from its first window on;
* ``true_positive`` keeps the pair held for good (it keeps alerting, and any new alert
  on it joins this one);
* ``false_positive`` releases the pair after the alert's last occurrence, and its
  patterns (the pair; its accounts from its source) suppress later alerts with the
  verdict as the reason (:class:`detections.alerting.VerdictBook`);
* closing an alert without a verdict releases the pair the same way, without
  suppressing anything.

Windows are the data's: a verdict given while window ``w`` is the latest scored applies
from the window after the alert's last occurrence, which is ``w`` or earlier.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from detections.alerting import VerdictBook
from detections.alerts import AlertRecord
from detections.store.tables import Alert
from models.quarantine import Quarantine


@dataclass
class Feedback:
    """What the store says the next windows must respect.

    Attributes:
        quarantine: the held pairs' timeline.
        verdicts: ``false_positive`` patterns.
        open_pairs: (src_host, dst_host) -> key of the pair's open alert (repeats join it).
        recent: open alerts (not suppressed) ending at or after ``since`` (campaign links).
    """

    quarantine: Quarantine = field(default_factory=Quarantine)
    verdicts: VerdictBook = field(default_factory=VerdictBook)
    open_pairs: dict[tuple[str, str], str] = field(default_factory=dict)
    recent: list[AlertRecord] = field(default_factory=list)


def load_feedback(session: Session, *, since: int | None = None) -> Feedback:
    """The quarantine, verdicts and open alerts of the store (``since``: UTC seconds from
    which open alerts are returned in ``recent``)."""
    out = Feedback()
    rows = session.execute(
        select(
            Alert.id,
            Alert.key,
            Alert.window,
            Alert.time,
            Alert.last_time,
            Alert.src_host,
            Alert.dst_host,
            Alert.user,
            Alert.users,
            Alert.status,
            Alert.verdict,
            Alert.suppressed,
            Alert.occurrences,
            Alert.severity,
            Alert.scores,
            Alert.explanation,
            Alert.stage_score,
        ).order_by(Alert.window, Alert.id)
    ).all()
    for r in rows:
        if r.suppressed:
            continue
        pair = (r.src_host, r.dst_host)
        last = max([int(w) for w in (r.occurrences or [])] + [int(r.window)])
        out.quarantine.hold([pair], window=int(r.window))
        if r.verdict == "true_positive":
            out.quarantine.verdict(pair, "true_positive", window=int(r.window))
        elif r.verdict == "false_positive":
            out.quarantine.verdict(pair, "false_positive", window=last + 1)
            out.verdicts.add(
                src=r.src_host, dst=r.dst_host, accounts=r.users or [], alert=f"#{r.id}"
            )
        elif r.status == "closed":
            out.quarantine.release([pair], window=last + 1)
        if r.status != "closed" and r.verdict != "false_positive":
            out.open_pairs[pair] = r.key
            if since is None or int(r.last_time) >= since:
                out.recent.append(
                    AlertRecord(
                        key=r.key,
                        window=int(r.window),
                        time=int(r.time),
                        last_time=int(r.last_time),
                        src_host=r.src_host,
                        dst_host=r.dst_host,
                        user=r.user,
                        users=list(r.users or []),
                        scores=dict(r.scores or {}),
                        explanation=list(r.explanation or []),
                        severity=r.severity,
                        occurrences=list(r.occurrences or []),
                        stage_score=float(r.stage_score or 0.0),
                    )
                )
    return out
