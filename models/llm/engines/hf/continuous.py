"""`ContinuousBridge`: asyncio calls onto transformers' continuous batching manager.

The manager (``model.init_continuous_batching``) keeps a paged KV cache and runs
one generation loop in its own thread: every step mixes prefill chunks of new
requests with one decode token of each running request, so concurrent summaries
share decode steps, and full cache blocks holding the same prefix (the shared
system prompt) are shared between requests (``allow_block_sharing``). A reader
thread hands finished results back to the event loop. Cancelling a caller
cancels its request in the manager.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from typing import Any

from models.llm.engines.base import Decoding, GenerationOutput
from models.llm.engines.hf.runner import HFRunner
from models.llm.errors import EngineError, SummarizerClosed


def cb_config(
    device: str, batch_size: int, max_tokens_per_request: int, use_cuda_graph: bool | None = None
) -> Any:
    """An explicit ``ContinuousBatchingConfig`` sized for ``batch_size`` requests.

    ``use_cuda_graph`` defaults to true on CUDA and false on CPU.
    """
    from transformers.generation.configuration_utils import ContinuousBatchingConfig

    cuda = device.startswith("cuda")
    page = 32
    blocks = max(16, -(-batch_size * max_tokens_per_request // page) + batch_size)
    fields: dict[str, Any] = {
        "page_size": page,
        "num_blocks": blocks,
        "max_batch_tokens": 8192 if cuda else 1024,
        "max_requests_per_batch": batch_size,
        "allow_block_sharing": True,
        "use_cuda_graph": cuda if use_cuda_graph is None else use_cuda_graph and cuda,
        "use_async_batching": False,
    }
    accepted = ContinuousBatchingConfig.__init__.__code__.co_varnames
    if "page_size" not in accepted:  # transformers < 5.17 named it block_size
        fields["block_size"] = fields.pop("page_size")
    return ContinuousBatchingConfig(**{k: v for k, v in fields.items() if k in accepted})


class ContinuousBridge:
    """Submit prompts to a continuous batching manager from asyncio.

    Args:
        runner: supplies the model, tokenizer and stop tokens.
        batch_size: most requests decoded together.
        max_new_tokens: default token budget (also sizes the cache).
        max_prompt_tokens: prompt length the cache is sized for.
        use_cuda_graph: capture CUDA graphs in the manager (default: on CUDA).
    """

    def __init__(
        self,
        runner: HFRunner,
        batch_size: int,
        max_new_tokens: int,
        max_prompt_tokens: int = 768,
        use_cuda_graph: bool | None = None,
    ) -> None:
        self.runner = runner
        self.use_cuda_graph = use_cuda_graph
        self.batch_size = batch_size
        self.max_new_tokens = max_new_tokens
        self.max_prompt_tokens = max_prompt_tokens
        self.manager: Any = None
        self._futures: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Future, int]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._reader: threading.Thread | None = None

    def start(self) -> None:
        """Create and start the manager and the reader thread."""
        from transformers import GenerationConfig

        model = self.runner.model
        gen = GenerationConfig(
            max_new_tokens=self.max_new_tokens,
            do_sample=False,
            eos_token_id=self.runner.eos_ids,
            pad_token_id=self.runner.pad_id,
        )
        config = cb_config(
            self.runner.device,
            self.batch_size,
            self.max_prompt_tokens + self.max_new_tokens,
            self.use_cuda_graph,
        )
        self.manager = model.init_continuous_batching(
            generation_config=gen, continuous_batching_config=config
        )
        self.manager.start()
        self._stop.clear()
        self._reader = threading.Thread(target=self._read, name="cb-reader", daemon=True)
        self._reader.start()

    def stop(self) -> None:
        """Stop the manager and fail pending callers."""
        self._stop.set()
        if self.manager is not None:
            self.manager.stop(block=True)
            destroy = getattr(self.runner.model, "destroy_cached_continuous_batching_manager", None)
            if destroy is not None:
                destroy()
            self.manager = None
        if self._reader is not None:
            self._reader.join(timeout=5)
            self._reader = None
        with self._lock:
            pending, self._futures = self._futures, {}
        for loop, fut, _ in pending.values():
            loop.call_soon_threadsafe(_fail, fut, SummarizerClosed("engine closed"))

    async def submit(self, ids: list[int], decoding: Decoding) -> GenerationOutput:
        """Add one request to the manager and wait for it to finish."""
        if self.manager is None:
            raise SummarizerClosed("engine not started")
        if len(ids) + decoding.max_new_tokens > self.max_prompt_tokens + self.max_new_tokens:
            raise EngineError(
                f"prompt of {len(ids)} tokens exceeds the cache sized for "
                f"{self.max_prompt_tokens} prompt tokens"
            )
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[GenerationOutput] = loop.create_future()
        rid = f"hw-{uuid.uuid4().hex}"
        with self._lock:
            self._futures[rid] = (loop, fut, len(ids))
        added = self.manager.add_request(
            ids, request_id=rid, max_new_tokens=decoding.max_new_tokens
        )
        if added is None:
            with self._lock:
                self._futures.pop(rid, None)
            raise EngineError("the continuous batching manager refused the request")
        try:
            return await fut
        except asyncio.CancelledError:
            with self._lock:
                self._futures.pop(rid, None)
            self.manager.cancel_request(rid)
            raise

    def _read(self) -> None:
        while not self._stop.is_set():
            manager = self.manager
            if manager is None:
                return
            result = manager.get_result(timeout=0.05)
            if result is None:
                error = getattr(
                    getattr(manager, "background_thread_status", None), "fatal_error", None
                )
                if error is not None:
                    self._fail_all(EngineError(f"continuous batching failed: {error}"))
                    return
                continue
            if not result.is_finished():
                continue
            with self._lock:
                entry = self._futures.pop(result.request_id, None)
            if entry is None:
                continue  # cancelled
            loop, fut, prompt_len = entry
            if getattr(result, "error", None):
                loop.call_soon_threadsafe(_fail, fut, EngineError(str(result.error)))
                continue
            out = self.runner._output(prompt_len, list(result.generated_tokens))
            loop.call_soon_threadsafe(_succeed, fut, out)

    def _fail_all(self, error: Exception) -> None:
        with self._lock:
            pending, self._futures = self._futures, {}
        for loop, fut, _ in pending.values():
            loop.call_soon_threadsafe(_fail, fut, error)


def _succeed(fut: asyncio.Future, value: GenerationOutput) -> None:
    if not fut.done():
        fut.set_result(value)


def _fail(fut: asyncio.Future, error: Exception) -> None:
    if not fut.done():
        fut.set_exception(error)
