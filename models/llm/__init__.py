"""Grounded alert summaries from a quantized local LLM.

The contract is :mod:`~models.llm.facts` (:class:`AlertFacts` in, :class:`SummaryResult`
out, and the adapter from an alert). :class:`Summarizer` (:mod:`~models.llm.summarizer`)
runs :class:`PromptBuilder` (:mod:`~models.llm.prompt`) -> an engine
(:mod:`models.llm.engines`) -> :mod:`~models.llm.output` -> :class:`GroundingCheck`
(:mod:`~models.llm.grounding`), with :mod:`~models.llm.template` as the fallback;
:mod:`~models.llm.config` is its plain settings object.
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
from models.llm.grounding import GroundingCheck
from models.llm.prompt import PromptBuilder
from models.llm.summarizer import Summarizer, build_engine
from models.llm.template import template_summary

__all__ = [
    "AlertFacts",
    "EngineError",
    "GroundingCheck",
    "LLMConfig",
    "PromptBuilder",
    "QueueFull",
    "Summarizer",
    "SummarizerClosed",
    "SummarizerError",
    "SummaryResult",
    "SummaryTimeout",
    "build_engine",
    "facts_from_alert",
    "template_summary",
]
