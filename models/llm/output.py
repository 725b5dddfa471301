"""Normalize a model's raw text and enforce the summary's output format."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_CHARS = 700
MAX_SENTENCES = 2

_MARKUP = re.compile(r"<\|?/?[A-Za-z_-]+\|?>|```|\[/?INST\]|https?://", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'(])")
_LEAD = re.compile(r"^(?:summary|two-sentence summary|answer)\s*:\s*", re.IGNORECASE)


@dataclass
class FormatReport:
    """Outcome of :func:`normalize_summary`.

    Attributes:
        text: the normalized text (may be empty).
        problems: format rules the raw text broke.
    """

    text: str
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No format problem."""
        return not self.problems


def normalize_summary(raw: str, truncated: bool = False) -> FormatReport:
    """Collapse whitespace, keep the first two complete sentences, check the format.

    Args:
        raw: the model's decoded completion (special tokens removed).
        truncated: generation stopped at the token budget, so the last sentence may
            be cut.

    The format is plain text, one paragraph, at most two sentences (later ones are dropped) and
    :data:`MAX_CHARS` characters, with no markup, chat tokens or links.
    """
    text = " ".join(raw.replace("\r", " ").split())
    text = _LEAD.sub("", text).strip().strip('"').strip()
    problems: list[str] = []
    if _MARKUP.search(text):
        problems.append("markup, chat tokens or links in the text")
    sentences = [s for s in _SENTENCE_END.split(text) if s.strip()]
    cut = truncated and sentences and not sentences[-1].rstrip().endswith((".", "!", "?"))
    if cut and len(sentences) > 1:
        sentences = sentences[:-1]  # drop the unfinished last sentence
    elif cut:
        sentences = [sentences[0].rstrip(" ,;:-") + "..."]  # the only one: keep it, marked
    sentences = sentences[:MAX_SENTENCES]
    text = " ".join(s.strip() for s in sentences)
    if not text:
        problems.append("empty text")
    elif len(text) > MAX_CHARS:
        problems.append(f"longer than {MAX_CHARS} characters")
    return FormatReport(text=text, problems=problems)
