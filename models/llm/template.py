"""The deterministic template summary used when the model's text is rejected."""

from __future__ import annotations

import re

from models.llm.facts import AlertFacts
from models.llm.prompt import format_time

_UNSAFE = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")


def _clean(value: str, limit: int = 200) -> str:
    text = _UNSAFE.sub(" ", value).strip()
    return text if len(text) <= limit else text[:limit] + "..."


def _join(items: list[str]) -> str:
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + ", and " + items[-1]


def template_summary(facts: AlertFacts) -> str:
    """Two sentences that state the alert's facts and nothing else.

    Every name in the text is copied from the structured fields, so the result always
    passes :class:`models.llm.grounding.GroundingCheck`.
    """
    dst = list(dict.fromkeys(facts.dst_hosts))
    if len(dst) <= 5:
        shown = [_clean(h) for h in dst]
    else:  # first hops, a count, and the last hop (the grounding check wants both ends)
        shown = [_clean(h) for h in dst[:4]] + [f"{len(dst) - 5} more", _clean(dst[-1])]
    first, last = format_time(facts.first_seen), format_time(facts.last_seen)
    when = f"at {first}" if first == last else f"between {first} and {last}"
    sentence1 = (
        f"User {_clean(facts.user)} authenticated from {_clean(facts.src_host)} "
        f"to {_join(shown)} {when}."
    )
    reasons = [f"{facts.detector} score {facts.score:.2f}"]
    if facts.rules:
        reasons.append("rules " + _join([f"'{_clean(r.title, 120)}'" for r in facts.rules[:3]]))
    if facts.techniques:
        reasons.append("ATT&CK " + ", ".join(_clean(t, 20) for t in facts.techniques[:5]))
    top = [c for c in facts.explanation if c.contribution > 0][:2]
    if top:
        reasons.append("top factors " + _join([_clean(c.text or c.feature, 120) for c in top]))
    sentence2 = "It was flagged as likely lateral movement (" + "; ".join(reasons) + ")."
    return f"{sentence1} {sentence2}"
