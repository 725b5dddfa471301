"""`BatchCollector`: an asyncio front for the synchronous runner (static or sequential).

Concurrent ``submit`` calls are queued in arrival order; one worker task takes
the oldest requests that share decoding settings (up to ``batch_size``, waiting
``batch_wait_ms`` for more to arrive), runs them in a thread as one padded batch
(or one by one with prefix reuse in ``sequential`` mode), and resolves each
caller's future. A caller cancelled before its batch starts is dropped from it.
Prompts submitted as text (``submit_text``) are tokenized in the batch's thread with
one batched tokenizer call, off the event loop. Each request may carry a grammar: the
runner constrains that row to it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from dataclasses import dataclass, field
from typing import Literal

from models.llm.engines.base import Decoding, GenerationOutput
from models.llm.engines.hf.runner import HFRunner
from models.llm.errors import SummarizerClosed


@dataclass
class _Item:
    ids: list[int] | None  # None: tokenize ``text`` with the batch
    decoding: Decoding
    future: asyncio.Future[GenerationOutput] = field(repr=False)
    text: str = ""
    grammar: str | None = None


class BatchCollector:
    """Batch concurrent requests onto an :class:`HFRunner`.

    Args:
        runner: the synchronous runner.
        mode: ``"static"`` (padded batches) or ``"sequential"`` (one at a time).
        batch_size: most requests per batch.
        batch_wait_ms: how long to wait for a batch to fill after the first request.
    """

    def __init__(
        self,
        runner: HFRunner,
        mode: Literal["static", "sequential"] = "static",
        batch_size: int = 16,
        batch_wait_ms: float = 5.0,
    ) -> None:
        self.runner = runner
        self.mode = mode
        self.batch_size = batch_size if mode == "static" else 1
        self.batch_wait_s = batch_wait_ms / 1000.0
        self.batches: list[int] = []  # sizes of the batches run, for tests and stats
        self._pending: deque[_Item] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the worker task on the running loop."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._worker())

    async def aclose(self) -> None:
        """Stop the worker and fail what is still pending."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        while self._pending:
            item = self._pending.popleft()
            if not item.future.done():
                item.future.set_exception(SummarizerClosed("engine closed"))

    async def submit(
        self, ids: list[int], decoding: Decoding, grammar: str | None = None
    ) -> GenerationOutput:
        """Queue one prompt and wait for its completion."""
        return await self._submit(ids, decoding, "", grammar)

    async def submit_text(
        self, text: str, decoding: Decoding, grammar: str | None = None
    ) -> GenerationOutput:
        """Queue a rendered prompt (tokenized with its batch, off the event loop)."""
        return await self._submit(None, decoding, text, grammar)

    async def _submit(
        self, ids: list[int] | None, decoding: Decoding, text: str, grammar: str | None
    ) -> GenerationOutput:
        if self._task is None:
            raise SummarizerClosed("engine not started")
        future: asyncio.Future[GenerationOutput] = asyncio.get_running_loop().create_future()
        self._pending.append(_Item(ids, decoding, future, text, grammar))
        self._wake.set()
        return await future

    def _run(self, batch: list[_Item]) -> list[GenerationOutput]:
        """Tokenize what came as text (one batched call), then generate (in a thread)."""
        todo = [item for item in batch if item.ids is None]
        if todo:
            encoded = self.runner.encode_texts([i.text for i in todo])
            for item, ids in zip(todo, encoded, strict=True):
                item.ids = ids
        if self.mode == "sequential":
            one = batch[0]
            return [self.runner.generate_one(one.ids, one.decoding, grammar=one.grammar)]
        return self.runner.generate_batch(
            [b.ids for b in batch], batch[0].decoding, [b.grammar for b in batch]
        )

    def _take(self) -> list[_Item]:
        while self._pending and self._pending[0].future.done():
            self._pending.popleft()  # cancelled while waiting
        if not self._pending:
            return []
        head = self._pending[0].decoding
        batch: list[_Item] = []
        keep: deque[_Item] = deque()
        while self._pending:
            item = self._pending.popleft()
            if item.future.done():
                continue
            if item.decoding == head and len(batch) < self.batch_size:
                batch.append(item)
            else:
                keep.append(item)
        self._pending = keep
        return batch

    async def _worker(self) -> None:
        while True:
            if not self._pending:
                self._wake.clear()
                await self._wake.wait()
            if self.batch_size > 1 and len(self._pending) < self.batch_size:
                await asyncio.sleep(self.batch_wait_s)
            batch = self._take()
            if not batch:
                continue
            self.batches.append(len(batch))
            try:
                outs = await asyncio.to_thread(self._run, batch)
            except Exception as exc:  # the engine failed: every caller of the batch sees it
                for item in batch:
                    if not item.future.done():
                        item.future.set_exception(exc)
                continue
            for item, out in zip(batch, outs, strict=True):
                if not item.future.done():
                    item.future.set_result(out)
