"""`TransformersEngine`: the in-process engine (default).

Loads the model from local files (:mod:`models.llm.engines.loader`), applies weight-only
quantization (:mod:`models.llm.engines.loader`), and serves concurrent requests through
continuous batching (:mod:`models.llm.engines.continuous`), padded static batches with
compiled CUDA-graph decoding, or sequential generation with prefix reuse
(:mod:`models.llm.engines.batching`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from models.llm.config import LLMConfig
from models.llm.engines.base import GenerationOutput, GenerationRequest
from models.llm.engines.batching import BatchCollector
from models.llm.engines.continuous import ContinuousBridge
from models.llm.engines.loader import default_quantization, quantize_model
from models.llm.engines.runner import HFRunner
from models.llm.errors import EngineError, SummarizerClosed
from models.llm.prompt import SYSTEM_PROMPT

#: Batching mode per device type when ``LLMConfig.batching == "auto"``.
DEFAULT_BATCHING = {"cpu": "continuous", "cuda": "static"}


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
        system_prompt: the shared system prompt whose KV cache is reused.
    """

    def __init__(
        self,
        config: LLMConfig,
        model: Any = None,
        tokenizer: Any = None,
        model_name: str = "custom",
        system_prompt: str = SYSTEM_PROMPT,
    ) -> None:
        self.config = config
        self.model_name = model_name
        self.quantization = "none"
        self.mode = config.batching
        self.device = "cpu"
        self._model = model
        self._tokenizer = tokenizer
        self._system_prompt = system_prompt
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
        quantize_model(self._model, quant, self.device)
        self.quantization = quant
        if self.mode == "auto":
            self.mode = default_batching(self.device)
        self.runner = HFRunner(
            self._model, self._tokenizer, self.device, self._system_prompt, compile=cfg.compile
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
        """Generate one completion (batched with concurrent calls)."""
        if self.runner is None:
            raise SummarizerClosed("engine not started")
        prefix = request.answer_prefix
        if self._bridge is not None:
            ids = self.runner.encode(request.messages)
            if prefix:
                ids = ids + self.runner.tokenizer.encode(prefix, add_special_tokens=False)
            out = await self._bridge.submit(ids, request.decoding)
        else:
            assert self._collector is not None
            text = self.runner.render(request.messages)
            out = await self._collector.submit_text(text, prefix or "", request.decoding)
        if prefix:
            sep = "" if out.text[:1].isspace() or not out.text else " "
            out.text = prefix + sep + out.text
        return out

    @property
    def batches(self) -> list[int]:
        """Sizes of the static/sequential batches run so far."""
        return list(self._collector.batches) if self._collector is not None else []
