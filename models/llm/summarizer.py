"""`Summarizer`: ``await summarize(facts)`` with a bounded queue, timeouts and grounding.

Pipeline per alert: :class:`PromptBuilder` -> :class:`Engine` constrained by the
alert's grammar (:func:`summary_grammar`: entity slots only take values from the
facts) -> :func:`render` to prose -> :class:`Verifier` (every claim kind). A rejected
answer is regenerated once with strict decoding, a prompt that names the violated claim
kinds, and a grammar that also bans the rejected words; when that fails too, the
deterministic :func:`template_summary` (verified the same way) is returned.

Admission: at most ``batch_size`` alerts are in the engine at once (the engine
batches them); up to ``queue_size`` more wait in FIFO order; one more raises
:class:`QueueFull` at once. ``timeout_s`` bounds the whole call, waiting included,
and raises :class:`SummaryTimeout` (the engine request is cancelled).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from models.llm.config import LLMConfig
from models.llm.engines.base import Decoding, Engine, GenerationRequest
from models.llm.errors import EngineError, QueueFull, SummarizerClosed, SummaryTimeout
from models.llm.facts import AlertFacts, SummaryResult
from models.llm.grammar import render, summary_grammar
from models.llm.prompt import PromptBuilder
from models.llm.template import template_summary
from models.llm.verify import Verification, Verifier


def build_engine(config: LLMConfig) -> Engine:
    """The engine named by ``config.engine`` (``auto``: the measured default), not started."""
    from models.llm.engines.loader import resolve_engine

    name = resolve_engine(config)
    if name == "openai":
        from models.llm.engines.openai_server import OpenAIEngine

        return OpenAIEngine(config)
    if name == "llamacpp":
        from models.llm.engines.llamacpp import LlamaCppEngine

        return LlamaCppEngine(config)
    from models.llm.engines.hf.local import TransformersEngine

    return TransformersEngine(config)


class Summarizer:
    """Grounded alert summaries.

    Args:
        config: the LLM settings.
        engine: a ready engine (default: built from ``config``).
        builder: the prompt builder.
        fallback_on_engine_error: when the engine fails, return the template summary
            instead of raising :class:`EngineError`.
    """

    def __init__(
        self,
        config: LLMConfig | None = None,
        engine: Engine | None = None,
        builder: PromptBuilder | None = None,
        fallback_on_engine_error: bool = True,
    ) -> None:
        self.config = config or LLMConfig()
        self.engine = engine or build_engine(self.config)
        self.builder = builder or PromptBuilder()
        self.fallback_on_engine_error = fallback_on_engine_error
        self._slots: asyncio.Semaphore | None = None
        self._waiting = 0
        self._started = False

    async def start(self) -> None:
        """Start the engine (loads the model for the in-process engine)."""
        if not self._started:
            await self.engine.start()
            self._slots = asyncio.Semaphore(self.config.batch_size)
            self._started = True

    async def aclose(self) -> None:
        """Stop the engine."""
        self._started = False
        await self.engine.aclose()

    async def __aenter__(self) -> Summarizer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    @property
    def waiting(self) -> int:
        """Requests admitted but not yet in the engine."""
        return self._waiting

    async def summarize(self, facts: AlertFacts) -> SummaryResult:
        """Summarize one alert.

        Raises:
            QueueFull: ``queue_size`` requests are already waiting.
            SummaryTimeout: not done within ``timeout_s``.
            SummarizerClosed: not started.
        """
        if not self._started or self._slots is None:
            raise SummarizerClosed("summarizer not started")
        if self._waiting >= self.config.queue_size:
            raise QueueFull(f"{self._waiting} summaries already queued")
        start = time.perf_counter()
        self._waiting += 1
        queued = True
        try:
            async with asyncio.timeout(self.config.timeout_s):
                async with self._slots:
                    self._waiting -= 1
                    queued = False
                    return await self._run(facts, start)
        except TimeoutError as exc:
            raise SummaryTimeout(
                f"alert {facts.alert_id}: no summary within {self.config.timeout_s:g} s"
            ) from exc
        finally:
            if queued:
                self._waiting -= 1

    async def summarize_many(self, facts: Sequence[AlertFacts]) -> list[SummaryResult]:
        """Summarize several alerts concurrently (one batch); results in input order."""
        return list(await asyncio.gather(*(self.summarize(f) for f in facts)))

    async def _run(self, facts: AlertFacts, start: float) -> SummaryResult:
        verifier = Verifier(facts)
        rejected: list[str] = []
        prompt_tokens = completion_tokens = attempts = 0
        messages = self.builder.messages(facts)
        grammar = summary_grammar(facts, verifier.support)
        decoding = Decoding(max_new_tokens=self.config.max_new_tokens)
        for strict in (False, True):
            try:
                out = await self.engine.generate(GenerationRequest(messages, decoding, grammar))
            except EngineError as exc:
                if not self.fallback_on_engine_error:
                    raise
                rejected.append(f"engine error: {exc}")
                break
            attempts += 1
            prompt_tokens += out.prompt_tokens
            completion_tokens += out.completion_tokens
            rendered = render(out.text)
            # an answer outside the four parts is still read for claims (their words are
            # banned from the retry)
            verification = verifier.verify(rendered.text if rendered.parts else out.text)
            if rendered.ok and verification.grounded:
                return self._result(
                    rendered.text,
                    "llm",
                    start,
                    prompt_tokens,
                    completion_tokens,
                    attempts,
                    rejected,
                    verification,
                )
            problems = rendered.problems + [
                f"{v.kind}: {v.reason} ({v.span!r})" for v in verification.violations
            ]
            rejected.append("; ".join(problems) or "empty answer")
            if not strict:
                kinds = verification.kinds + (["format"] if not rendered.ok else [])
                messages = self.builder.strict_messages(facts, kinds)
                ban = tuple(v.span for v in verification.violations)
                grammar = summary_grammar(facts, verifier.support, ban=ban)
                decoding = Decoding(max_new_tokens=self.config.max_new_tokens, strict=True)
        text = template_summary(facts)
        return self._result(
            text,
            "template",
            start,
            prompt_tokens,
            completion_tokens,
            attempts,
            rejected,
            verifier.verify(text),
        )

    def _result(
        self,
        text: str,
        source: str,
        start: float,
        prompt_tokens: int,
        completion_tokens: int,
        attempts: int,
        rejected: list[str],
        verification: Verification,
    ) -> SummaryResult:
        return SummaryResult(
            text=text,
            source=source,  # type: ignore[arg-type]
            grounded=verification.grounded,
            violations=[v.to_dict() for v in verification.violations],
            model=self.engine.model_name if source == "llm" else "template",
            quantization=self.engine.quantization,
            latency_ms=round((time.perf_counter() - start) * 1000.0, 2),
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            attempts=attempts,
            rejected=rejected,
        )
