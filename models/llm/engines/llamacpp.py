"""`LlamaCppEngine`: the GGUF run directly by llama.cpp, with continuous batching and
grammar-constrained decoding (the CPU default).

The bundled ``SmolLM2-135M-Instruct.Q4_1.gguf`` stays Q4_1: llama.cpp's own 4-bit
kernels do the matmuls (nothing is dequantized to float at load). One worker thread
owns the llama.cpp context and runs the decoding loop:

* **prefix cache** -- the conversation's shared start (system prompt and worked example,
  the same for every alert) is decoded once into sequence 0; a new request copies those
  cells (``llama_memory_seq_cp``, no recomputation) and prefills only its own tokens;
* **continuous batching** -- every step is one ``llama_decode`` over a batch that mixes
  one token of every decoding request with prefill chunks of newly admitted ones (up to
  ``n_batch`` tokens); a request joins at the next step and leaves when it finishes;
* **threads** -- as many as the cores other processes leave free
  (:class:`ThreadGovernor`; ``LLMConfig.threads`` fixes the number);
* **constrained decoding** -- each request's :class:`~models.llm.grammar.Constraint`
  (llguidance) masks its logits before the greedy choice, and tokens the grammar forces
  (the part labels) are fed in one chunk without sampling.

``asyncio`` callers submit requests through a queue and await futures resolved from the
worker thread; cancelling a caller drops its request at the next step.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from models.llm.config import LLMConfig
from models.llm.engines.base import Decoding, GenerationOutput, GenerationRequest
from models.llm.errors import EngineError, SummarizerClosed

#: GGUF ``general.file_type`` -> quantization name (llama.cpp's ``llama_ftype``).
FILE_TYPES = {0: "f32", 1: "f16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1"}
FILE_TYPES |= {10: "Q2_K", 12: "Q3_K_M", 14: "Q4_K_S", 15: "Q4_K_M", 17: "Q5_K_M", 18: "Q6_K"}


def _quiet_logs() -> None:
    import llama_cpp

    @llama_cpp.llama_log_callback
    def _silent(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
        return None

    llama_cpp.llama_log_set(_silent, ctypes.c_void_p(0))
    _quiet_logs.keep = _silent  # type: ignore[attr-defined]  # keep the callback alive


@dataclass
class _Request:
    prompt: list[int]
    decoding: Decoding
    grammar: str | None
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[GenerationOutput]
    seq: int = -1
    pos: int = 0
    pending: list[int] = field(default_factory=list)
    out: list[int] = field(default_factory=list)
    constraint: Any = None
    cached: int = 0
    ended: bool = False


class LlamaCppModel:
    """A loaded GGUF and its context (used by one thread at a time).

    Args:
        path: the ``.gguf`` file.
        n_ctx: KV cells in all (the prefix once, plus every running request).
        n_batch: most tokens per ``llama_decode``.
        n_seq: most sequences (the prefix's and one per running request).
        threads: CPU threads for llama.cpp.
    """

    def __init__(
        self,
        path: Path,
        n_ctx: int,
        n_batch: int,
        n_seq: int,
        threads: int,
        unified: bool = True,
    ) -> None:
        import llama_cpp

        _quiet_logs()
        llama_cpp.llama_backend_init()
        mparams = llama_cpp.llama_model_default_params()
        self.model = llama_cpp.llama_model_load_from_file(str(path).encode(), mparams)
        if not self.model:
            raise EngineError(f"{path}: llama.cpp could not load the model")
        cparams = llama_cpp.llama_context_default_params()
        cparams.n_ctx = n_ctx
        cparams.n_batch = n_batch
        cparams.n_ubatch = n_batch
        cparams.n_seq_max = n_seq
        cparams.n_threads = threads
        cparams.n_threads_batch = threads
        cparams.kv_unified = unified
        cparams.no_perf = True
        self.ctx = llama_cpp.llama_init_from_model(self.model, cparams)
        if not self.ctx:
            llama_cpp.llama_model_free(self.model)
            raise EngineError(f"{path}: llama.cpp could not create a context")
        self.n_batch = n_batch
        self.n_ctx = n_ctx
        self.threads = threads
        self.vocab = llama_cpp.llama_model_get_vocab(self.model)
        self.n_vocab = llama_cpp.llama_vocab_n_tokens(self.vocab)
        self.memory = llama_cpp.llama_get_memory(self.ctx)
        self.batch = llama_cpp.llama_batch_init(n_batch, 0, 1)
        self.eos_ids = [
            t for t in range(self.n_vocab) if llama_cpp.llama_vocab_is_eog(self.vocab, t)
        ]
        self.file_type = FILE_TYPES.get(self._meta_int("general.file_type"), "gguf")
        self.chat_template = self.meta("tokenizer.chat_template")
        self.size_bytes = int(llama_cpp.llama_model_size(self.model))

    def meta(self, key: str) -> str:
        """A GGUF metadata value as text (``""`` when absent)."""
        import llama_cpp

        buf = ctypes.create_string_buffer(1 << 16)
        n = llama_cpp.llama_model_meta_val_str(self.model, key.encode(), buf, len(buf))
        return buf.value.decode("utf-8", "replace") if n >= 0 else ""

    def _meta_int(self, key: str) -> int:
        try:
            return int(self.meta(key))
        except ValueError:
            return -1

    def tokenize(self, text: str) -> list[int]:
        """Token ids of rendered chat text (special tokens parsed, no BOS added)."""
        import llama_cpp

        data = text.encode("utf-8")
        n_max = len(data) + 16
        buf = (llama_cpp.llama_token * n_max)()
        n = llama_cpp.llama_tokenize(self.vocab, data, len(data), buf, n_max, False, True)
        if n < 0:
            raise EngineError(f"prompt does not tokenize ({n})")
        return list(buf[:n])

    def detokenize(self, tokens: list[int]) -> str:
        """Text of ``tokens`` (special tokens left out)."""
        import llama_cpp

        out = bytearray()
        buf = ctypes.create_string_buffer(256)
        for t in tokens:
            n = llama_cpp.llama_token_to_piece(self.vocab, t, buf, len(buf), 0, False)
            out += buf.raw[: max(n, 0)]
        return out.decode("utf-8", "replace")

    def set_threads(self, threads: int) -> None:
        """Threads for the next decodes."""
        import llama_cpp

        if threads != self.threads:
            llama_cpp.llama_set_n_threads(self.ctx, threads, threads)
            self.threads = threads

    def decode(self, entries: list[tuple[int, int, int, bool]]) -> None:
        """One ``llama_decode`` of (token, position, sequence, wants logits) entries."""
        import llama_cpp

        b = self.batch
        for i, (tok, pos, seq, logits) in enumerate(entries):
            b.token[i] = tok
            b.pos[i] = pos
            b.n_seq_id[i] = 1
            b.seq_id[i][0] = seq
            b.logits[i] = logits
        b.n_tokens = len(entries)
        rc = llama_cpp.llama_decode(self.ctx, b)
        if rc != 0:
            raise EngineError(f"llama_decode failed ({rc}): context too small or bad input")

    def logits(self, index: int) -> np.ndarray:
        """The logits row of batch entry ``index`` (a view, valid until the next decode)."""
        import llama_cpp

        ptr = llama_cpp.llama_get_logits_ith(self.ctx, index)
        return np.ctypeslib.as_array(ptr, shape=(self.n_vocab,))

    def copy_sequence(self, src: int, dst: int, upto: int) -> None:
        """Share cells [0, upto) of sequence ``src`` with ``dst``."""
        import llama_cpp

        llama_cpp.llama_memory_seq_cp(self.memory, src, dst, 0, upto)

    def drop_sequence(self, seq: int) -> None:
        """Free every cell of sequence ``seq``."""
        import llama_cpp

        llama_cpp.llama_memory_seq_rm(self.memory, seq, -1, -1)

    def close(self) -> None:
        """Free the context and the model."""
        import llama_cpp

        if self.ctx:
            llama_cpp.llama_batch_free(self.batch)
            llama_cpp.llama_free(self.ctx)
            llama_cpp.llama_model_free(self.model)
            self.ctx = self.model = None


class ThreadGovernor:
    """How many threads llama.cpp should use now: the cores other processes leave free.

    llama.cpp's worker threads wait for each other at every operation; when another
    process holds a core, the thread waiting there spins through its time slice and a
    decode step gets several times slower than with fewer threads (measured on a shared
    2-core machine: batch-16 decoding ran at 6 tokens/s with 2 threads and 60 with 1).
    Every ``interval`` seconds this reads the CPU time of the whole machine
    (``/proc/stat``) and of this process (``/proc/self/stat``) and sets the thread count to
    the number of cores the others left idle (at least 1, at most ``most``). Where
    ``/proc`` is unreadable it keeps ``most``.
    """

    def __init__(self, most: int, interval: float = 1.0) -> None:
        self.most = max(1, most)
        self.interval = interval
        self.threads = self.most
        self._last = self._sample()
        self._at = time.monotonic()

    @staticmethod
    def _sample() -> tuple[float, float, float] | None:
        try:
            fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
            ticks = [float(x) for x in fields]
            mine = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, ValueError, IndexError):
            return None
        idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0.0)
        return sum(ticks), idle, float(mine[11]) + float(mine[12])

    def update(self) -> int:
        """The thread count for the next decode (re-measured once per interval)."""
        now = time.monotonic()
        if now - self._at < self.interval:
            return self.threads
        sample = self._sample()
        if sample is not None and self._last is not None:
            total = sample[0] - self._last[0]
            if total > 0:
                cores = os.cpu_count() or 1
                busy = (total - (sample[1] - self._last[1]) - (sample[2] - self._last[2])) / total
                free = cores - busy * cores  # cores not used by other processes
                self.threads = max(1, min(self.most, int(free + 0.5)))
        self._last, self._at = sample, now
        return self.threads


def render_chat(template: str, messages: list[dict[str, str]], generation: bool) -> str:
    """``messages`` through the GGUF's own chat template (Jinja)."""
    import jinja2.sandbox

    env = jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    return env.from_string(template).render(
        messages=messages, add_generation_prompt=generation, bos_token="", eos_token=""
    )


class LlamaCppEngine:
    """Generate in-process with llama.cpp from a GGUF file.

    Args:
        config: the LLM settings (``model_path``/``gguf_file``, ``batch_size``,
            ``max_new_tokens``, ``threads``).
        prefix_messages: the conversation start shared by every request (its KV cells
            are computed once and shared).
        max_prompt_tokens: prompt length the context is sized for.
    """

    def __init__(
        self,
        config: LLMConfig,
        prefix_messages: list[dict[str, str]] | None = None,
        max_prompt_tokens: int = 1536,
    ) -> None:
        if prefix_messages is None:
            from models.llm.prompt import PromptBuilder

            prefix_messages = PromptBuilder().prefix_messages()
        self.config = config
        self.prefix_messages = prefix_messages
        self.max_prompt_tokens = max_prompt_tokens
        self.model_name = "llama.cpp"
        self.quantization = "gguf"
        self.device = "cpu"
        self.llm: LlamaCppModel | None = None
        self.grammar_tokenizer: Any = None
        self.prefix_ids: list[int] = []
        self.steps = 0  # llama_decode calls, for tests and stats
        self.governor: ThreadGovernor | None = None
        self._incoming: deque[_Request] = deque()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = asyncio.Lock()

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Load the GGUF, decode the shared prefix, start the worker; idempotent."""
        async with self._start_lock:
            if self._thread is not None:
                return
            await asyncio.to_thread(self._load)
            self._stop.clear()
            self._thread = threading.Thread(target=self._work, name="llamacpp", daemon=True)
            self._thread.start()

    def _load(self) -> None:
        from models.llm.engines.loader import resolve_source
        from models.llm.grammar import GrammarTokenizer

        cfg = self.config
        source = resolve_source(cfg.model_path, cfg.gguf_file)
        if source.gguf_file is None:
            raise EngineError(f"{source.directory}: the llama.cpp engine needs a .gguf file")
        threads = cfg.threads or min(os.cpu_count() or 1, 8)
        self.governor = None if cfg.threads else ThreadGovernor(threads)
        per_request = self.max_prompt_tokens + cfg.max_new_tokens
        n_ctx = 1024 + cfg.batch_size * per_request
        self.llm = LlamaCppModel(
            source.directory / source.gguf_file,
            n_ctx=n_ctx,
            n_batch=512,
            n_seq=cfg.batch_size + 1,
            threads=threads,
        )
        self.model_name = source.name
        self.quantization = self.llm.file_type
        self.grammar_tokenizer = GrammarTokenizer.from_llama(
            self.llm.vocab, self.llm.n_vocab, self.llm.eos_ids
        ).check(self.llm.tokenize)
        text = render_chat(self.llm.chat_template, self.prefix_messages, generation=False)
        self.prefix_ids = self.llm.tokenize(text)
        for i in range(0, len(self.prefix_ids), self.llm.n_batch):
            chunk = self.prefix_ids[i : i + self.llm.n_batch]
            self.llm.decode([(t, i + k, 0, False) for k, t in enumerate(chunk)])

    async def aclose(self) -> None:
        """Stop the worker; pending calls fail with ``SummarizerClosed``."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 30)
            self._thread = None
        while self._incoming:
            r = self._incoming.popleft()
            r.loop.call_soon_threadsafe(_fail, r.future, SummarizerClosed("engine closed"))
        if self.llm is not None:
            self.llm.close()
            self.llm = None

    # -- requests ----------------------------------------------------------------------

    def encode(self, messages: list[dict[str, str]]) -> list[int]:
        """Prompt token ids of chat ``messages`` (generation prompt included)."""
        assert self.llm is not None
        return self.llm.tokenize(render_chat(self.llm.chat_template, messages, generation=True))

    async def generate(self, request: GenerationRequest) -> GenerationOutput:
        """Generate one completion (batched with concurrent calls)."""
        if self._thread is None or self.llm is None:
            raise SummarizerClosed("engine not started")
        ids = self.encode(request.messages)
        if len(ids) > self.max_prompt_tokens:
            raise EngineError(f"prompt of {len(ids)} tokens exceeds {self.max_prompt_tokens}")
        loop = asyncio.get_running_loop()
        item = _Request(ids, request.decoding, request.grammar, loop, loop.create_future())
        if request.grammar:  # compiled off the decoding thread, beside other requests
            item.constraint = await asyncio.to_thread(
                self.grammar_tokenizer.constraint, request.grammar
            )
        self._incoming.append(item)
        self._wake.set()
        return await item.future

    # -- the decoding loop (worker thread) ---------------------------------------------

    def _admit(self, running: dict[int, _Request], free: list[int]) -> None:
        assert self.llm is not None
        n = len(self.prefix_ids)
        while self._incoming and free:
            r = self._incoming.popleft()
            if r.future.done():
                continue  # cancelled while queued
            r.seq = free.pop()
            if r.prompt[:n] == self.prefix_ids:
                self.llm.copy_sequence(0, r.seq, n)
                r.pos, r.cached, r.pending = n, n, r.prompt[n:]
            else:
                r.pos, r.pending = 0, list(r.prompt)
            running[r.seq] = r

    def _batch(self, running: dict[int, _Request]) -> list[tuple[int, int, int, bool]]:
        assert self.llm is not None
        entries: list[tuple[int, int, int, bool]] = []
        budget = self.llm.n_batch
        # decoding requests first (one or a few tokens each), then prefill chunks
        order = sorted(running.values(), key=lambda r: len(r.pending))
        for r in order:
            if not r.pending or budget <= 0:
                continue
            take = r.pending[:budget]
            last = len(take) == len(r.pending)
            for k, tok in enumerate(take):
                entries.append((tok, r.pos + k, r.seq, last and k == len(take) - 1))
            r.pos += len(take)
            r.pending = r.pending[len(take) :]
            budget -= len(take)
        return entries

    def _choose(self, r: _Request, index: int, mask: np.ndarray) -> int:
        from models.llm.grammar.matcher import masked_argmax, unpack

        assert self.llm is not None
        logits = self.llm.logits(index)
        penalty = Decoding.STRICT_REPETITION_PENALTY if r.decoding.strict else 1.0
        seen = set(r.out) if penalty != 1.0 else None
        if r.constraint is None:
            allowed = np.ones(self.llm.n_vocab, dtype=bool)
        else:
            r.constraint.fill(mask, 0)
            allowed = unpack(mask[0], self.llm.n_vocab)
        return masked_argmax(logits, allowed, seen, penalty)

    def _work(self) -> None:
        assert self.llm is not None
        llm = self.llm
        free = list(range(self.config.batch_size, 0, -1))
        running: dict[int, _Request] = {}
        mask = self.grammar_tokenizer.bitmask(1)
        eos = set(llm.eos_ids)
        while not self._stop.is_set():
            self._admit(running, free)
            for seq, r in list(running.items()):
                if r.future.done():  # the caller went away
                    self._finish(running, free, seq, None)
            if not running:
                self._wake.wait(0.05)
                self._wake.clear()
                continue
            entries = self._batch(running)
            if self.governor is not None:
                llm.set_threads(self.governor.update())
            try:
                llm.decode(entries)
            except EngineError as exc:
                for seq in list(running):
                    self._finish(running, free, seq, exc)
                continue
            self.steps += 1
            for index, (_, _, seq, wants) in enumerate(entries):
                r = running.get(seq)
                if not wants or r is None or r.pending:
                    continue
                tok = self._choose(r, index, mask)
                r.out.append(tok)
                if r.constraint is not None and not r.constraint.advance(tok):
                    self._finish(running, free, seq, None)
                    continue
                if tok in eos or (r.constraint is not None and r.constraint.done):
                    r.ended = True
                    self._finish(running, free, seq, None)
                    continue
                forced = r.constraint.forced() if r.constraint is not None else []
                r.out += forced
                r.pending = [tok, *forced]
                if len(r.out) >= r.decoding.max_new_tokens:
                    self._finish(running, free, seq, None)
        for seq in list(running):
            self._finish(running, free, seq, SummarizerClosed("engine closed"))

    def _finish(
        self, running: dict[int, _Request], free: list[int], seq: int, error: Exception | None
    ) -> None:
        assert self.llm is not None
        r = running.pop(seq)
        self.llm.drop_sequence(seq)
        free.append(seq)
        if error is not None:
            r.loop.call_soon_threadsafe(_fail, r.future, error)
            return
        eos = set(self.llm.eos_ids)
        body = [t for t in r.out if t not in eos]
        out = GenerationOutput(
            text=self.llm.detokenize(body),
            prompt_tokens=len(r.prompt),
            completion_tokens=len(r.out),
            truncated=not r.ended,
            cached_prompt_tokens=r.cached,
        )
        r.loop.call_soon_threadsafe(_succeed, r.future, out)


def _succeed(fut: asyncio.Future, value: GenerationOutput) -> None:
    if not fut.done():
        fut.set_result(value)


def _fail(fut: asyncio.Future, error: Exception) -> None:
    if not fut.done():
        fut.set_exception(error)
