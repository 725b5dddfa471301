"""The deterministic template summary used when the model's answer is rejected twice."""

from __future__ import annotations

import re

from models.llm.facts import AlertFacts
from models.llm.prompt import confidence_word
from models.llm.verify import next_steps
from models.llm.verify.support import utc_naive

_UNSAFE = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")


def _clean(value: str, limit: int = 200) -> str:
    text = _UNSAFE.sub(" ", value).strip()
    return text if len(text) <= limit else text[:limit] + "..."


def _join(items: list[str]) -> str:
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + ", and " + items[-1]


def template_summary(facts: AlertFacts) -> str:
    """Four sentences that state the alert's facts and nothing else.

    What happened (the path in hop order, user, times), why it was flagged (score,
    top reasons, rules, ATT&CK ids), what to check next, and how sure hopwatch is.
    Every name, time and number is copied from the facts; the verifier checks the
    result like any model answer.
    """
    dst = list(dict.fromkeys(facts.dst_hosts))
    if len(dst) > 5:  # first hops, a count, and the last hop
        dst = [*dst[:3], f"{len(dst) - 4} more hosts", dst[-1]]
    path = " then ".join(_clean(h) for h in dst)
    first, last = utc_naive(facts.first_seen), utc_naive(facts.last_seen)
    when = (
        f"at {first:%Y-%m-%d %H:%M} UTC"
        if first.replace(second=0) == last.replace(second=0)
        else f"between {first:%Y-%m-%d %H:%M} and {last:%Y-%m-%d %H:%M} UTC"
    )
    happened = f"{_clean(facts.user)} moved from {_clean(facts.src_host)} to {path} {when}."
    reasons = [_clean(c.text or c.feature, 160) for c in facts.explanation if c.contribution > 0]
    why = f"the {_clean(facts.detector, 20)} detector scored it {facts.score:.2f}"
    if reasons[:2]:
        why += " because " + _join(reasons[:2])
    if facts.rules:
        why += "; rules " + _join([_clean(r.id, 80) for r in facts.rules[:3]]) + " fired"
    if facts.techniques:
        why += " (ATT&CK " + ", ".join(_clean(t, 20) for t in facts.techniques[:5]) + ")"
    step = next_steps(facts, limit=1)[0]
    confidence = confidence_word(facts.score)
    return (
        f"{happened} {why[0].upper() + why[1:]}. Check next: {step}. "
        f"Confidence: {confidence}, with a score of {facts.score:.2f}."
    )
