"""`TransformersEngine`: the in-process engine (default).

Loads the model from local files (:mod:`models.llm.engines.loader`), applies weight-only
quantization (:mod:`models.llm.engines.loader`), and serves concurrent requests through
continuous batching (:mod:`models.llm.engines.hf.continuous`), padded static batches with
compiled CUDA-graph decoding, or sequential generation with prefix reuse
(:mod:`models.llm.engines.hf.batching`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from models.llm.config import LLMConfig
from models.llm.engines.base import GenerationOutput, GenerationRequest
from models.llm.engines.hf.batching import BatchCollector
from models.llm.engines.hf.continuous import ContinuousBridge
from models.llm.engines.hf.graph_decode import GraphDecoder
from models.llm.engines.hf.runner import HFRunner
from models.llm.engines.loader import default_quantization, quantize_model
from models.llm.errors import EngineError, SummarizerClosed

#: Batching mode per device type when ``LLMConfig.batching == "auto"`` (static batches
#: apply the grammar; transformers' continuous batching manager cannot).
DEFAULT_BATCHING = {"cpu": "static", "cuda": "static"}


def default_batching(device: str) -> str:
    """The default batching mode for ``device``."""
    return DEFAULT_BATCHING["cuda" if device.startswith("cuda") else "cpu"]


class TransformersEngine:
    """Generate in-process with transformers.

    Args:
        config: the LLM settings.
        model, tokenizer: an already loaded model and tokenizer (tests and benchmarks
            pass a small random model); when omitted, loaded from ``config`` on start.
        model_name: name reported in results when ``model`` is given.
        prefix_messages: the conversation start shared by every request (default: the
            prompt builder's system prompt and worked example).
    """

    def __init__(
        self,
        config: LLMConfig,
        model: Any = None,
        tokenizer: Any = None,
        model_name: str = "custom",
        prefix_messages: list[dict[str, str]] | None = None,
    ) -> None:
        if prefix_messages is None:
            from models.llm.prompt import PromptBuilder

            prefix_messages = PromptBuilder().prefix_messages()
        self.config = config
        self.model_name = model_name
        self.quantization = "none"
        self.mode = config.batching
        self.device = "cpu"
        self._model = model
        self._tokenizer = tokenizer
        self._prefix_messages = prefix_messages
        self.runner: HFRunner | None = None
        self._collector: BatchCollector | None = None
        self._bridge: ContinuousBridge | None = None
        self._start_lock = asyncio.Lock()

    async def start(self) -> None:
        """Load (if needed), quantize and start the batching front; idempotent."""
        async with self._start_lock:
            if self.runner is not None:
                return
            await asyncio.to_thread(self._prepare)
            assert self.runner is not None
            if self.mode == "continuous":
                self._bridge = ContinuousBridge(
                    self.runner, self.config.batch_size, self.config.max_new_tokens
                )
                await asyncio.to_thread(self._bridge.start)
            else:
                self._collector = BatchCollector(
                    self.runner, self.mode, self.config.batch_size, self.config.batch_wait_ms
                )
                self._collector.start()

    def _prepare(self) -> None:
        from models.llm.engines.loader import load, resolve_device

        cfg = self.config
        if self._model is None:
            self._model, self._tokenizer, source, self.device = load(cfg)
            self.model_name = source.name
        else:
            self.device = resolve_device(cfg.device)
            self._model = self._model.to(self.device).eval()
        if self._tokenizer is None:
            raise EngineError("TransformersEngine: a tokenizer is required with a given model")
        self._tokenizer.padding_side = "left"
        quant = cfg.quantization
        if quant == "auto":
            quant = default_quantization(self.device)
        self.quantization = quant
        if self.mode == "auto":
            self.mode = default_batching(self.device)
        graphs = self.mode == "static" and cfg.compile and self.device.startswith("cuda")
        if graphs and GraphDecoder.supports(self._model):
            # the graph decoder quantizes its own fused copies of the projections
            self.runner = HFRunner(
                self._model,
                self._tokenizer,
                self.device,
                self._prefix_messages,
                compile=cfg.compile,
                quantization=quant,
            )
            return
        quantize_model(self._model, quant, self.device)
        self.runner = HFRunner(
            self._model, self._tokenizer, self.device, self._prefix_messages, compile=cfg.compile
        )

    async def aclose(self) -> None:
        """Stop batching; pending calls fail with ``SummarizerClosed``."""
        if self._collector is not None:
            await self._collector.aclose()
            self._collector = None
        if self._bridge is not None:
            await asyncio.to_thread(self._bridge.stop)
            self._bridge = None
        self.runner = None

    async def generate(self, request: GenerationRequest) -> GenerationOutput:
        """Generate one completion (batched with concurrent calls).

        Continuous batching (transformers' manager) cannot apply ``request.grammar``:
        there the answer is unconstrained, and only the verifier checks it.
        """
        if self.runner is None:
            raise SummarizerClosed("engine not started")
        if self._bridge is not None:
            ids = self.runner.encode(request.messages)
            return await self._bridge.submit(ids, request.decoding)
        assert self._collector is not None
        text = self.runner.render(request.messages)
        return await self._collector.submit_text(text, request.decoding, request.grammar)

    @property
    def batches(self) -> list[int]:
        """Sizes of the static/sequential batches run so far."""
        return list(self._collector.batches) if self._collector is not None else []
