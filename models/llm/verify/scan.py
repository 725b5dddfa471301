"""`Scan`: the text being verified, read claim by claim, and the violations found."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Violation:
    """One unsupported claim.

    Attributes:
        span: the offending text, as written.
        kind: the claim kind (``host``, ``user``, ``ip``, ``time``, ``count``, ``score``,
            ``technique``, ``tool``, ``action``, ``order``, ``direction``, ``role``,
            ``verdict``, ``format``).
        reason: why the facts do not support it (fixed wording, safe to log).
        start: offset of ``span`` in the text.
    """

    span: str
    kind: str
    reason: str
    start: int = -1

    def to_dict(self) -> dict[str, str]:
        """``{"span", "kind", "reason"}``."""
        return {"span": self.span, "kind": self.kind, "reason": self.reason}


@dataclass
class Scan:
    """The text, a working copy in which read claims are blanked, and violations.

    Each check reads claims with :meth:`take`, which blanks what it matched in the
    working copy (so a later check does not read ``2024`` of a date as a count), and
    reports the unsupported ones with :meth:`report`.
    """

    text: str
    work: str = ""
    violations: list[Violation] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.work = self.text

    def blank(self, start: int, end: int) -> None:
        """Blank ``[start, end)`` of the working copy."""
        self.work = self.work[:start] + " " * (end - start) + self.work[end:]

    def take(self, pattern: re.Pattern[str]) -> Iterator[re.Match[str]]:
        """Matches of ``pattern`` in the working copy, each blanked once read."""
        found = list(pattern.finditer(self.work))
        for m in found:
            self.blank(m.start(), m.end())
        yield from found

    def report(self, start: int, end: int, kind: str, reason: str) -> None:
        """Record a violation over ``[start, end)`` (once per span and kind)."""
        span = self.text[start:end].strip()
        if any(v.start == start and v.kind == kind for v in self.violations):
            return
        self.violations.append(Violation(span, kind, reason, start))
        self.blank(start, end)
