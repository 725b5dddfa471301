"""Generation grounded by construction: the summary's grammar, its slots, rendering.

:func:`summary_grammar` (:mod:`~models.llm.grammar.summary`) builds a Lark grammar per
alert whose entity slots (:class:`Slots`, :mod:`~models.llm.grammar.slots`) only take
values from the facts, with free lower-case text between them; :func:`render` turns
the labelled answer into prose. :class:`GrammarTokenizer` and :class:`Constraint`
(:mod:`~models.llm.grammar.matcher`) run the grammar with llguidance inside the
engines' decoding loops.
"""

from models.llm.grammar.matcher import BatchMasks, Constraint, GrammarTokenizer
from models.llm.grammar.slots import Slots
from models.llm.grammar.summary import SECTIONS, Rendered, banned_words, render, summary_grammar

__all__ = [
    "SECTIONS",
    "BatchMasks",
    "Constraint",
    "GrammarTokenizer",
    "Rendered",
    "Slots",
    "banned_words",
    "render",
    "summary_grammar",
]
