"""`SummaryResult`: what the summarizer returns for one alert."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class SummaryResult(BaseModel):
    """One alert summary; ``text`` is always grounded in the alert's facts.

    Attributes:
        text: the summary (two sentences).
        source: ``"llm"`` when the model's text passed the grounding check,
            ``"template"`` when the deterministic fallback was used.
        grounded: whether ``text`` passed the grounding check (always true for
            returned results; kept explicit for API consumers).
        model: model name (or ``"template"``).
        quantization: weight quantization in use (``none``, ``int8``, ``int4``, or the
            remote server's name for the OpenAI engine).
        latency_ms: wall time from submission to result, queueing included.
        prompt_tokens, completion_tokens: summed over all LLM attempts.
        attempts: LLM generations tried (0, 1 or 2).
        rejected: why earlier attempts were rejected (grounding problems).
    """

    model_config = ConfigDict(extra="forbid")

    text: str
    source: Literal["llm", "template"]
    grounded: bool
    model: str
    quantization: str
    latency_ms: float
    prompt_tokens: int = 0
    completion_tokens: int = 0
    attempts: int = 0
    rejected: list[str] = Field(default_factory=list)
