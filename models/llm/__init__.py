"""Grounded alert summaries from a quantized local LLM.

The contract is :mod:`~models.llm.facts` (:class:`AlertFacts` in, :class:`SummaryResult`
out, and the adapter from an alert). :class:`Summarizer` (:mod:`~models.llm.summarizer`)
runs :class:`PromptBuilder` (:mod:`~models.llm.prompt`) -> an engine
(:mod:`models.llm.engines`) constrained by the alert's grammar (:mod:`models.llm.grammar`)
-> :class:`Verifier` (:mod:`models.llm.verify`), with :mod:`~models.llm.template` as the
fallback; :mod:`~models.llm.config` is its plain settings object.
"""

from models.llm.config import LLMConfig
from models.llm.errors import (
    EngineError,
    QueueFull,
    SummarizerClosed,
    SummarizerError,
    SummaryTimeout,
)
from models.llm.facts import AlertFacts, SummaryResult, facts_from_alert
from models.llm.prompt import PromptBuilder
from models.llm.summarizer import Summarizer, build_engine
from models.llm.template import template_summary
from models.llm.verify import Verification, Verifier, Violation

__all__ = [
    "AlertFacts",
    "EngineError",
    "LLMConfig",
    "PromptBuilder",
    "QueueFull",
    "Summarizer",
    "SummarizerClosed",
    "SummarizerError",
    "SummaryResult",
    "SummaryTimeout",
    "Verification",
    "Verifier",
    "Violation",
    "build_engine",
    "facts_from_alert",
    "template_summary",
]
