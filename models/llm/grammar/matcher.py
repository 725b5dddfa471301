"""Run a summary grammar inside a decoding loop with llguidance.

llguidance was chosen over xgrammar and outlines-core by measured mask overhead
(``benchmarks/llm_grammar.py``) and because its Lark dialect has regex negation
(``~``) and intersection (``&``), which is how the free text keeps the alert's ban
list out; xgrammar's EBNF and outlines' regexes have neither.

:class:`GrammarTokenizer` wraps the model's vocabulary (built once per engine: about
1 s); :meth:`GrammarTokenizer.constraint` starts one request's :class:`Constraint`,
which fills the row of allowed next tokens into a packed bitmask (32 tokens per
``int32``), consumes the chosen token, and reports tokens the grammar forces.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from models.llm.errors import EngineError


class GrammarTokenizer:
    """The vocabulary, as llguidance needs it.

    Args:
        ll_tokenizer: an ``llguidance.LLTokenizer``.
        vocab_size: size of the model's logits row (may exceed the tokenizer's).
    """

    def __init__(self, ll_tokenizer: Any, vocab_size: int, eos_ids: Any = ()) -> None:
        self.ll = ll_tokenizer
        self.vocab_size = int(vocab_size)
        self.words = (self.vocab_size + 31) // 32
        self.eos_ids = [int(t) for t in eos_ids]

    @classmethod
    def from_hf(cls, tokenizer: Any, vocab_size: int | None = None, eos_ids: Any = None):
        """From a fast Hugging Face tokenizer (the transformers engine)."""
        import llguidance.hf

        n = vocab_size or len(tokenizer)
        eos = list(eos_ids) if eos_ids else None
        ll = llguidance.hf.from_tokenizer(tokenizer, n_vocab=n, eos_token=eos)
        return cls(ll, n, eos or [tokenizer.eos_token_id])

    @classmethod
    def from_llama(cls, vocab: Any, vocab_size: int, eos_ids: Any = None) -> GrammarTokenizer:
        """From a llama.cpp vocabulary pointer (the llama.cpp engine)."""
        import llguidance.llamacpp

        eos = list(eos_ids) if eos_ids else None
        ll = llguidance.llamacpp.lltokenizer_from_vocab(vocab, n_vocab=vocab_size, eos_token=eos)
        return cls(ll, vocab_size, eos or [])

    def check(self, encode: Any) -> GrammarTokenizer:
        """Fail loudly when llguidance does not read the vocabulary as the model does.

        ``encode`` maps text to the model's token ids. A tiny grammar must accept the ids of
        a text it allows and reject those of a text it does not; a vocabulary read wrongly
        (byte-level tokens taken as something else) would let every token through and the
        answers would be unconstrained.

        Raises:
            EngineError: the vocabulary check failed.
        """
        grammar = 'start: "Host " ("WS01" | "SRV02") " moved."'
        good = self.constraint(grammar)
        if not all(good.advance(t) for t in encode("Host SRV02 moved.")) or not good.accepting:
            raise EngineError("llguidance rejects a text its grammar allows: vocabulary misread")
        bad = self.constraint(grammar)
        if all(bad.advance(t) for t in encode("Host EVIL99 moved.")):
            raise EngineError("llguidance accepts a text its grammar forbids: vocabulary misread")
        return self

    def constraint(self, grammar: str) -> Constraint:
        """A new request's grammar state.

        Raises:
            EngineError: the grammar does not compile.
        """
        from llguidance import LLMatcher

        matcher = LLMatcher(self.ll, LLMatcher.grammar_from_lark(grammar))
        if matcher.is_error():
            raise EngineError(f"summary grammar rejected: {matcher.get_error()}")
        return Constraint(matcher, self.vocab_size)

    def bitmask(self, rows: int) -> np.ndarray:
        """An all-allowed packed bitmask of ``rows`` rows."""
        return np.full((rows, self.words), -1, dtype=np.int32)


class Constraint:
    """One request's grammar state (not thread-safe; one decoding loop owns it)."""

    def __init__(self, matcher: Any, vocab_size: int) -> None:
        self.matcher = matcher
        self.vocab_size = vocab_size

    def fill(self, bitmask: np.ndarray, row: int) -> None:
        """Write the allowed next tokens into ``bitmask[row]``."""
        v = bitmask[row]
        self.matcher.unsafe_compute_mask_ptr(v.ctypes.data, v.size * v.itemsize)

    def allowed(self) -> np.ndarray:
        """A bool vector of the allowed next tokens."""
        mask = np.empty((1, (self.vocab_size + 31) // 32), dtype=np.int32)
        self.fill(mask, 0)
        return unpack(mask[0], self.vocab_size)

    def advance(self, token: int) -> bool:
        """Consume ``token``; False when the grammar rejects it."""
        return bool(self.matcher.consume_token(int(token)))

    def forced(self) -> list[int]:
        """Tokens the grammar forces next (consumed here; feed them to the model)."""
        tokens = list(self.matcher.compute_ff_tokens())
        if tokens and not self.matcher.consume_tokens(tokens):
            return []
        return tokens

    @property
    def done(self) -> bool:
        """The grammar stopped (its end, or end of text, was consumed)."""
        return bool(self.matcher.is_stopped())

    @property
    def accepting(self) -> bool:
        """The text so far is a complete answer."""
        return bool(self.matcher.is_accepting())

    @property
    def error(self) -> str:
        """Why the grammar failed, or ``""``."""
        return self.matcher.get_error() if self.matcher.is_error() else ""


def unpack(row: np.ndarray, vocab_size: int) -> np.ndarray:
    """A packed bitmask row as a bool vector of ``vocab_size`` entries."""
    return np.unpackbits(row.view(np.uint8), bitorder="little")[:vocab_size].astype(bool)


def masked_argmax(logits: np.ndarray, allowed: np.ndarray, seen: Any = None, penalty=1.0):
    """Greedy choice among ``allowed`` tokens, with an optional repetition penalty."""
    x = np.where(allowed[: logits.shape[0]], logits, -np.inf)
    if seen is not None and penalty != 1.0 and len(seen):
        idx = np.fromiter(seen, dtype=np.int64)
        vals = x[idx]
        x[idx] = np.where(vals > 0, vals / penalty, vals * penalty)
    return int(np.argmax(x))


class BatchMasks:
    """Fill the masks of a batch of constraints at once (rows in parallel threads).

    Args:
        tokenizer: the :class:`GrammarTokenizer` the constraints were made with.
        threads: worker threads of llguidance's executor (``None``: its default).
    """

    def __init__(self, tokenizer: GrammarTokenizer, threads: int | None = None) -> None:
        self.tokenizer = tokenizer
        self.threads = threads
        self._executor: Any = None

    def fill(self, constraints: list[Constraint | None], bitmask: np.ndarray) -> None:
        """Row ``i`` of ``bitmask`` gets the allowed tokens of ``constraints[i]``: all
        tokens for ``None``, only end of text for a grammar that has ended."""
        live = [(c.matcher, i) for i, c in enumerate(constraints) if c is not None and not c.done]
        bitmask[:] = -1
        for i, c in enumerate(constraints):
            if c is not None and c.done:
                bitmask[i] = 0
                for t in self.tokenizer.eos_ids:
                    if not 0 <= t < self.tokenizer.vocab_size:
                        continue
                    bitmask[i, t // 32] |= np.int32(np.uint32(1 << (t % 32)).view(np.int32))
        if not live:
            return
        if len(live) == 1:
            constraints[live[0][1]].fill(bitmask, live[0][1])  # type: ignore[union-attr]
            return
        if self._executor is None:
            from llguidance import LLExecutor

            self._executor = LLExecutor(self.threads)
        rows, words = bitmask.shape
        self._executor.unsafe_compute_mask_ptr(live, bitmask.ctypes.data, words * 4, rows)
