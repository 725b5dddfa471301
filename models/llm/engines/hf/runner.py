"""Synchronous generation on a loaded transformers model: one request or a padded batch.

:class:`HFRunner` owns the model, tokenizer and the KV cache of the shared system
prompt. ``generate_one`` reuses that cached prefix (prefix caching: the system
prompt's keys and values are computed once, then copied per request);
``generate_batch`` left-pads a batch; on CUDA it decodes Llama-architecture models
with :class:`models.llm.engines.hf.graph_decode.GraphDecoder` (static KV cache, one CUDA graph per
decode step, no per-step host work) and other models with transformers' static cache
and ``torch.compile``. Prompt lengths and batch sizes are rounded up to buckets so few
graphs are captured.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

from models.llm.engines.base import Decoding, GenerationOutput
from models.llm.engines.hf.graph_decode import GraphDecoder

#: Batch sizes the static path pads to (CUDA graphs are captured per shape).
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)
#: Prompt lengths are left-padded to a multiple of this on CUDA.
LENGTH_BUCKET = 64


def _bucket(n: int, buckets: tuple[int, ...]) -> int:
    return next((b for b in buckets if b >= n), n)


def encode_chat(
    tokenizer: Any, messages: list[dict[str, str]], generation_prompt: bool = True
) -> list[int]:
    """Token ids of ``messages`` through the tokenizer's chat template."""
    out = tokenizer.apply_chat_template(
        messages, add_generation_prompt=generation_prompt, tokenize=True, return_dict=True
    )
    return list(out["input_ids"])


class HFRunner:
    """Generate with a loaded causal LM (thread-safe: one generation at a time).

    Args:
        model: a transformers causal LM in eval mode.
        tokenizer: its tokenizer (chat template required).
        device: ``cpu`` or ``cuda[:N]``.
        prefix: the conversation start shared by every prompt (chat messages, or a
            system prompt as text), whose KV cache is reused.
        compile: on CUDA, decode padded batches with CUDA graphs (``GraphDecoder`` for
            Llama-architecture models, else a static cache and ``torch.compile``).
        graph_decoder: set False to use transformers' static cache + ``torch.compile``
            even for Llama models (the benchmark's comparison row).
        quantization: weight quantization of the graph decoder's own projection copies
            (``none``, ``int8``, ``int4``); the caller quantizes the model itself when no
            graph decoder runs.
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        device: str,
        prefix: list[dict[str, str]] | str,
        compile: bool = True,
        graph_decoder: bool = True,
        quantization: str = "none",
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.device = device
        self.compile = compile and device.startswith("cuda")
        self.lock = threading.Lock()
        ids = {tokenizer.eos_token_id, model.generation_config.eos_token_id}
        for special in ("<|im_end|>", "<|endoftext|>"):
            tid = tokenizer.convert_tokens_to_ids(special)
            if isinstance(tid, int) and tid != tokenizer.unk_token_id:
                ids.add(tid)
        self.eos_ids = sorted(i for i in ids if isinstance(i, int) and i >= 0)
        pad = tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else self.eos_ids[0]
        if isinstance(prefix, str):
            prefix = [{"role": "system", "content": prefix}]
        self.prefix_messages = prefix
        self._system: tuple[str, list[int]] | None = None
        self._grammar: Any = None
        self._special_tokens = [
            t for t in tokenizer.all_special_tokens if t and t not in ("<unk>",)
        ] + [t for t in getattr(tokenizer, "added_tokens_encoder", {}) if t]
        self.prefix_ids = encode_chat(tokenizer, prefix, generation_prompt=False)
        self._prefix_cache: Any = None
        self._graph: GraphDecoder | None = None
        if self.compile and graph_decoder and GraphDecoder.supports(model):
            self._graph = GraphDecoder(model, self.eos_ids, self.pad_id, quantization=quantization)

    @property
    def graph_decoder(self) -> GraphDecoder | None:
        """The CUDA-graph decoder in use, if any."""
        return self._graph

    # -- helpers ------------------------------------------------------------------------

    def encode(self, messages: list[dict[str, str]]) -> list[int]:
        """Prompt token ids for chat ``messages``."""
        return encode_chat(self.tokenizer, messages)

    def render(self, messages: list[dict[str, str]]) -> str:
        """The chat-template text of ``messages`` (tokenize it with :meth:`encode_texts`)."""
        return self.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, tokenize=False
        )

    def encode_texts(self, texts: list[str]) -> list[list[int]]:
        """Token ids of rendered prompts.

        The shared prefix is tokenized once (its ids are cached): a text that starts with
        it and continues with a special token -- where the tokenizer splits anyway -- gets
        those ids plus the ids of the rest. The rest goes through one batched call (the
        fast tokenizer spreads it over threads). The ids equal :meth:`encode` of the
        messages.
        """
        tok = self.tokenizer
        head, head_ids = self._system_text()
        cut = [len(head) if head and self._splits_at(t, len(head)) else 0 for t in texts]
        ids = tok([t[c:] for t, c in zip(texts, cut, strict=True)], add_special_tokens=False)[
            "input_ids"
        ]
        return [(head_ids if c else []) + list(i) for i, c in zip(ids, cut, strict=True)]

    def constraints(self, grammars: list[str | None]) -> list[Any]:
        """One grammar state per prompt (``None`` where unconstrained)."""
        from models.llm.grammar import BatchMasks, GrammarTokenizer

        if not any(grammars):
            return [None] * len(grammars)
        if self._grammar is None:
            vocab = int(self.model.get_output_embeddings().weight.shape[0])
            gt = GrammarTokenizer.from_hf(self.tokenizer, vocab, self.eos_ids)
            gt.check(lambda text: self.tokenizer.encode(text, add_special_tokens=False))
            self._grammar = (gt, BatchMasks(gt))
        gt = self._grammar[0]
        todo = [g for g in grammars if g]
        if len(todo) == 1:
            return [gt.constraint(g) if g else None for g in grammars]
        import os
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(min(len(todo), os.cpu_count() or 1)) as pool:
            made = iter(list(pool.map(gt.constraint, todo)))  # llguidance drops the GIL
        return [next(made) if g else None for g in grammars]

    @property
    def masks(self) -> Any:
        """The :class:`~models.llm.grammar.BatchMasks` of this runner's vocabulary."""
        return self._grammar[1] if self._grammar is not None else None

    def _system_text(self) -> tuple[str, list[int]]:
        """The rendered system turn and its token ids (computed once)."""
        if self._system is None:
            text = self.tokenizer.apply_chat_template(
                self.prefix_messages, add_generation_prompt=False, tokenize=False
            )
            self._system = (text, self.tokenizer(text, add_special_tokens=False)["input_ids"])
        return self._system

    def _splits_at(self, text: str, at: int) -> bool:
        """True when ``text`` continues at ``at`` with a special (added) token."""
        if not text.startswith(self._system_text()[0]):
            return False
        rest = text[at:]
        return any(rest.startswith(t) for t in self._special_tokens)

    def _gen_kwargs(self, decoding: Decoding) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "max_new_tokens": decoding.max_new_tokens,
            "do_sample": False,
            "eos_token_id": self.eos_ids,
            "pad_token_id": self.pad_id,
        }
        if decoding.strict:
            kwargs["repetition_penalty"] = Decoding.STRICT_REPETITION_PENALTY
        return kwargs

    def _output(self, prompt_len: int, new: list[int], cached: int = 0) -> GenerationOutput:
        """Decode ``new`` tokens (cut at the first end-of-text) into an output."""
        cut = next((i for i, t in enumerate(new) if t in self.eos_ids), None)
        ended = cut is not None
        count = cut + 1 if cut is not None else len(new)
        text = self.tokenizer.decode(new[: count - int(ended)], skip_special_tokens=True)
        return GenerationOutput(
            text=text,
            prompt_tokens=prompt_len,
            completion_tokens=count,
            truncated=not ended,
            cached_prompt_tokens=cached,
        )

    def prefix_cache(self) -> Any:
        """The KV cache of the system prompt (computed once)."""
        import torch

        if self._prefix_cache is None:
            ids = torch.tensor([self.prefix_ids], device=self.device)
            with torch.no_grad():
                out = self.model(input_ids=ids, use_cache=True)
            self._prefix_cache = out.past_key_values
        return self._prefix_cache

    # -- generation ---------------------------------------------------------------------

    def generate_one(
        self,
        ids: list[int],
        decoding: Decoding,
        reuse_prefix: bool = True,
        grammar: str | None = None,
    ) -> GenerationOutput:
        """Generate for one prompt, reusing the prefix's KV cache when it is a prefix."""
        import torch

        n = len(self.prefix_ids)
        use_prefix = reuse_prefix and len(ids) > n and ids[:n] == self.prefix_ids
        with self.lock, torch.no_grad():
            kwargs = self._gen_kwargs(decoding)
            constraints = self.constraints([grammar])
            if constraints[0] is not None:
                kwargs["logits_processor"] = [GrammarLogits(constraints, self.masks)]
            if use_prefix:
                kwargs["past_key_values"] = copy.deepcopy(self.prefix_cache())
            x = torch.tensor([ids], device=self.device)
            out = self.model.generate(input_ids=x, attention_mask=torch.ones_like(x), **kwargs)
        return self._output(len(ids), out[0, len(ids) :].tolist(), n if use_prefix else 0)

    def generate_batch(
        self,
        batch: list[list[int]],
        decoding: Decoding,
        grammars: list[str | None] | None = None,
    ) -> list[GenerationOutput]:
        """Generate for a left-padded batch; on CUDA with CUDA graphs (or a compiled
        static cache); ``grammars`` constrain the rows (``None`` entries do not)."""
        import torch

        constraints = self.constraints(list(grammars or [None] * len(batch)))

        rows = len(batch)
        width = max(len(ids) for ids in batch)
        if self.compile:
            width = -(-width // LENGTH_BUCKET) * LENGTH_BUCKET
            rows = _bucket(rows, BATCH_BUCKETS)
        padded = [ids for ids in batch] + [batch[-1]] * (rows - len(batch))
        if self._graph is not None:
            self._graph.eos_ids = list(self.eos_ids)  # benchmarks may change them
            penalty = Decoding.STRICT_REPETITION_PENALTY if decoding.strict else 1.0
            with self.lock:
                new_rows = self._graph.generate(
                    padded,
                    decoding.max_new_tokens,
                    penalty,
                    width=width,
                    constraints=constraints if any(constraints) else None,
                    masks=self.masks,
                )
            return [self._output(len(batch[i]), new_rows[i]) for i in range(len(batch))]
        x = torch.full((rows, width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((rows, width), dtype=torch.long)
        for i, ids in enumerate(padded):
            x[i, width - len(ids) :] = torch.tensor(ids)
            mask[i, width - len(ids) :] = 1
        kwargs = self._gen_kwargs(decoding)
        if any(constraints):
            rows_c = constraints + [None] * (rows - len(constraints))
            kwargs["logits_processor"] = [GrammarLogits(rows_c, self.masks)]
        if self.compile:
            kwargs["cache_implementation"] = "static"
        else:
            kwargs["disable_compile"] = True
        with self.lock, torch.no_grad():
            out = self.model.generate(
                input_ids=x.to(self.device), attention_mask=mask.to(self.device), **kwargs
            )
        new = out[:, width:].tolist()
        return [self._output(len(batch[i]), new[i]) for i in range(len(batch))]


class GrammarLogits:
    """A transformers logits processor applying one grammar per row (``generate``'s path).

    Each call first advances every row's grammar with the token chosen last, then masks
    the scores to the tokens the grammars allow (only end of text once a grammar has
    ended). Rows without a grammar are left alone.
    """

    def __init__(self, constraints: list[Any], masks: Any) -> None:
        self.constraints = list(constraints)
        self.masks = masks
        self.started = False

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import numpy as np
        import torch

        if self.started:
            last = input_ids[:, -1].tolist()
            for i, c in enumerate(self.constraints):
                if c is not None and not c.done and not c.advance(last[i]):
                    self.constraints[i] = None
        self.started = True
        rows, vocab = scores.shape
        mask = np.full((rows, (vocab + 31) // 32), -1, dtype=np.int32)
        self.masks.fill(self.constraints, mask)
        bits = np.unpackbits(mask.view(np.uint8), axis=1, bitorder="little")[:, :vocab]
        allowed = torch.from_numpy(bits.astype(bool)).to(scores.device)
        return scores.masked_fill(~allowed, float("-inf"))
