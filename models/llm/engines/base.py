"""The `Engine` interface: chat messages in, text out, concurrent calls batched inside."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class Decoding:
    """Decoding settings for one request.

    Attributes:
        max_new_tokens: token budget.
        strict: the retry after a rejected answer: greedy with a repetition penalty
            where the engine supports it (static/sequential paths, OpenAI servers),
            greedy otherwise.
    """

    max_new_tokens: int = 96
    strict: bool = False

    #: Repetition penalty of strict decoding.
    STRICT_REPETITION_PENALTY = 1.3


@dataclass
class GenerationRequest:
    """One generation: chat messages, decoding settings and the answer's grammar."""

    messages: list[dict[str, str]]
    decoding: Decoding = field(default_factory=Decoding)
    #: The answer's grammar (llguidance Lark, :func:`models.llm.grammar.summary_grammar`):
    #: in-process engines sample only tokens it allows; the OpenAI engine sends it to the
    #: server (vLLM's ``guided_grammar``), which may ignore it -- the verifier checks the
    #: text either way. ``None``: unconstrained.
    grammar: str | None = None


@dataclass
class GenerationOutput:
    """What an engine produced for one request.

    Attributes:
        text: the decoded completion (special tokens removed).
        prompt_tokens: tokens in the prompt.
        completion_tokens: tokens generated.
        truncated: generation stopped at ``max_new_tokens`` rather than end of text.
        cached_prompt_tokens: prompt tokens served from a prefix cache, when known.
    """

    text: str
    prompt_tokens: int
    completion_tokens: int
    truncated: bool = False
    cached_prompt_tokens: int = 0


@runtime_checkable
class Engine(Protocol):
    """A text generator behind the summarizer.

    Attributes:
        model_name: reported in results.
        quantization: weight quantization in use (``none``, ``int8``, ``int4``, ...).
    """

    model_name: str
    quantization: str

    async def start(self) -> None:
        """Load weights / open connections; idempotent."""
        ...

    async def aclose(self) -> None:
        """Release resources; pending calls fail with ``SummarizerClosed``."""
        ...

    async def generate(self, request: GenerationRequest) -> GenerationOutput:
        """Generate one completion; cancelling the awaiting task cancels the request."""
        ...
