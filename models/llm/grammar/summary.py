"""The summary's grammar (llguidance's Lark dialect) and its rendering to prose.

The model answers in four labelled parts::

    What happened: <1 sentence: the path in hop order>
    Why flagged: <1 sentence>
    Check next: <1 sentence>
    Confidence: <1 sentence>

The labels are the grammar's, not the model's (they are dropped when the answer is
rendered to prose). Inside a sentence every token is one of:

* a free word -- lower-case letters only (the first word of a sentence may be
  capitalised), so no digit, capital, dot or ``@`` can start a name, a time or a
  number, and no word of the alert's ban list (spelled numbers, relative time,
  verdicts, tools and actions its techniques do not support) can be written;
* an entity slot -- exactly one of the :class:`~models.llm.grammar.slots.Slots` values
  (the alert's hosts, user, IPs, times, score, counts, ATT&CK ids and names);
* punctuation ``, ; : ( )``.

The confidence part starts with the score's band word (``High`` from 0.75,
``Moderate`` from 0.4, else ``Low``), an entity slot of its own.

So a host, user, IP, time, number or technique that is not in the facts cannot be
generated at all; what the grammar cannot see (a right name in a wrong role or order,
a banned phrase spelled in allowed words) is left to the verifier.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from models.llm.facts import AlertFacts
from models.llm.grammar.slots import Slots
from models.llm.prompt import confidence_word
from models.llm.verify import Support
from models.llm.verify.lexicon import GRAMMAR_WORDS, NEVER_WORDS, id_supported

#: (label, most sentences) per part, in order.
SECTIONS: tuple[tuple[str, int], ...] = (
    ("What happened", 1),
    ("Why flagged", 1),
    ("Check next", 1),
    ("Confidence", 1),
)
MAX_WORDS = 20  # per sentence
MIN_ITEMS = 3  # a sentence has a first word and at least this many more
MAX_PATH = 10  # hops the first sentence can name in order
GAP = 10  # most words between two hops
_WORD = re.compile(r"[a-z]+")


def banned_words(support: Support, extra: tuple[str, ...] = ()) -> list[str]:
    """Words the free text may not use for this alert (lower case, whole words)."""
    banned: list[str] = []
    for pattern, ids in GRAMMAR_WORDS.items():
        if not id_supported(ids, support.techniques):
            banned += [w for w in pattern.split("|") if w not in support.trusted_tokens]
    banned += [w for w in NEVER_WORDS.split("|") if w not in support.trusted_tokens]
    score = support.facts.score
    if score < 0.75:
        banned += ["high", "higher", "highest", "highly", "strong", "strongly", "very"]
    if score >= 0.6:
        banned += ["low", "lower", "lowest", "unlikely", "weak", "weakly"]
    if not 0.4 <= score < 0.9:
        banned += ["moderate", "moderately", "medium", "fairly"]
    for word in extra:
        banned += [w for w in _WORD.findall(word.lower()) if len(w) > 1]
    return sorted(set(banned), key=lambda w: (-len(w), w))


def band(score: float) -> str:
    """The confidence part's first word (``High``, ``Moderate``, ``Low``)."""
    return confidence_word(score).capitalize()


def _alts(values: list[str], prefix: str = "") -> str:
    return " | ".join(json.dumps(prefix + v) for v in values)


def summary_grammar(
    facts: AlertFacts, support: Support | None = None, ban: tuple[str, ...] = ()
) -> str:
    """The Lark grammar of one alert's summary (for llguidance).

    Args:
        facts: the alert.
        support: its :class:`Support` (computed when omitted).
        ban: more words to keep out of the free text (the retry bans the words the
            verifier rejected in the first answer).
    """
    s = support or Support.of(facts)
    slot_set = Slots.of(facts, s)
    slots = slot_set.all()
    banned = "|".join(re.escape(w) for w in banned_words(s, ban))
    # a banned word is banned inside hyphenated words too ("two-hop")
    never = f" & ~/ \\(?(?:[a-z'-]*-)?(?i:{banned})(?:-[a-z'-]*)?/" if banned else ""
    never_first = f" & ~/(?i:{banned})(?:-[a-z'-]*)?/" if banned else ""
    parts = []
    for i, (label, most) in enumerate(SECTIONS):
        lead = "" if i == 0 else "\\n"
        body = "sentence" if most == 1 else 'sentence (" " sentence)?'
        if label == "What happened":  # the path, in hop order
            body = "hsent"
        if label == "Confidence":  # starts with the score's band word
            body = f'{_alts([band(s.facts.score)])} item{{0,{MAX_WORDS}}} "."'
        parts.append(f'"{lead}{label}: " {body}')
    return "\n".join(
        [
            "start: " + " ".join(f"part{i}" for i in range(len(SECTIONS))),
            *(f"part{i}: {p}" for i, p in enumerate(parts)),
            *_path_rules(s, slot_set, slots, never),
            f'sentence: first item{{{MIN_ITEMS},{MAX_WORDS}}} "."',
            "first: FIRST | slot",
            "item: WORD | spaced | PUNCT",
            f"slot: {_alts(slots)}",
            f"spaced: {_alts(slots, ' ')} | {_alts(slots, ' (')}",
            f"FIRST: /[A-Z][a-z]{{0,15}}/{never_first}",
            f"WORD: / \\(?[a-z][a-z'-]{{0,15}}/{never}",
            "PUNCT: /[,;:)]/",
        ]
    )


def _path_rules(s: Support, slot_set: Slots, slots: list[str], never: str) -> list[str]:
    """The first sentence of "What happened": the path's hosts in hop order.

    It names the source host and the first destination, then any later hops, each at
    most once and in the path's order; between them go free words, punctuation and the
    user, time and number slots -- so a hop cannot be reversed or reordered there.
    """
    path = s.path[: MAX_PATH + 1]
    other = [v for v in slots if v in set(slot_set.users + slot_set.times + slot_set.numbers)]
    hops = []
    for k, host in enumerate(path):
        forms = [f for f in dict.fromkeys([host, host.split(".", 1)[0]]) if f in slots]
        forms = forms or [host]
        tail = "nh"
        hops.append(f"hop{k}: ({_alts(forms, ' ')} | {_alts(forms, ' (')}) {tail}{{0,{GAP}}}")
    order = " ".join(["hop0", "hop1", *(f"hop{k}?" for k in range(2, len(path)))])
    spaced = f" | {_alts(other, ' ')} | {_alts(other, ' (')}" if other else ""
    return [
        f'hsent: hfirst pre{{0,{GAP}}} {order} "."',
        *hops,
        f"hfirst: FIRST | {_alts(other)}" if other else "hfirst: FIRST",
        "nh: WORD | PUNCT" + spaced,
        "pre: PREWORD | PUNCT" + spaced,  # before the source host: no "to"
        "PREWORD: / [a-z][a-z'-]{0,15}/ & ~/ (?:to|into|onto|toward|towards|reached|reaching)/"
        + never,
    ]


@dataclass
class Rendered:
    """A labelled answer rendered to prose.

    Attributes:
        text: the prose (the parts' sentences in order, labels dropped).
        parts: label -> that part's text.
        sentences: number of sentences.
        problems: format problems (missing parts, wrong length).
    """

    text: str
    parts: dict[str, str] = field(default_factory=dict)
    sentences: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No format problem."""
        return not self.problems


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


def count_sentences(text: str) -> int:
    """Sentences in ``text`` (a dot inside ``0.62`` or ``corp.local`` does not end one)."""
    return len([p for p in _SENTENCE_END.split(text.strip()) if p.strip()])


def render(answer: str) -> Rendered:
    """The prose of a labelled answer; parts missing or out of order are problems."""
    labels = [label for label, _ in SECTIONS]
    pattern = re.compile(r"^\s*(" + "|".join(map(re.escape, labels)) + r")\s*:\s*", re.M)
    marks = list(pattern.finditer(answer))
    parts: dict[str, str] = {}
    for m, nxt in zip(marks, [*marks[1:], None], strict=False):
        body = answer[m.end() : nxt.start() if nxt else len(answer)]
        parts.setdefault(m.group(1), " ".join(body.split()))
    problems = [f"missing part {label!r}" for label in labels if not parts.get(label)]
    text = " ".join(parts[label] for label in labels if parts.get(label))
    n = count_sentences(text)
    if not problems and not 3 <= n <= 6:
        problems.append(f"{n} sentences (3 to 6 wanted)")
    return Rendered(text=text, parts=parts, sentences=n, problems=problems)
