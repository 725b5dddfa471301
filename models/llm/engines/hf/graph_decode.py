"""Greedy batched decoding with a static KV cache, one CUDA graph per decode step.

``model.generate`` with a static cache and ``torch.compile`` spends most of each decode
step in Python on the host (logits processors, stopping criteria that synchronise every
step, cache bookkeeping): about 7 ms per step on the H100 for SmolLM2-135M, whose GPU
work per step is well under 1 ms. :class:`GraphDecoder` removes that host work:

* the Llama forward pass is run here, layer by layer, on the model's own modules
  (norms, projections, MLP, rotary table), with a KV cache of fixed shape that this
  module owns -- no dependence on transformers' ``Cache`` internals, which change
  between releases;
* one decode step is captured as two CUDA graphs per (batch rows, prompt width, cache
  length) and replayed: the forward pass (logits into a static buffer), then the choice
  -- the grammar's token mask, repetition penalty, ``argmax``, end-of-text tracking, the
  output write and the position/step counters. Unconstrained, the host synchronises only
  every :data:`CHECK_EVERY` steps to see whether every row has finished. Constrained
  (:class:`~models.llm.grammar.Constraint` per row), the host reads each step's tokens,
  advances the grammars and computes the next masks *while the next forward graph runs*,
  then uploads the masks before the choice graph: the grammar costs no GPU time;
* the prompt is prefilled eagerly in one forward pass over the left-padded batch.

On CPU (and with ``graphs=False``) the same step runs eagerly; tests compare its
tokens with ``model.generate`` on a small random Llama. Only Llama-architecture
models (SmolLM2, Llama, Mistral-style without sliding windows) are supported;
:meth:`GraphDecoder.supports` says whether a model is, and callers fall back to
``generate`` otherwise.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

#: Host synchronises to check for finished rows once per this many decode steps.
CHECK_EVERY = 8
#: Captured graphs (and their static buffers) kept per decoder, least recently used out.
MAX_GRAPHS = 6
_SUPPORTED = ("llama",)


@dataclass
class _State:
    """Static buffers of one (rows, width, length) shape."""

    keys: list[Any]
    values: list[Any]
    valid: Any  # (B, L) bool: cache slots a query may attend to
    tok: Any  # (B, 1) token fed to the next step
    pos: Any  # (B, 1) its rotary position
    step: Any  # () int64: decode step index
    out: Any  # (B, N + 1) generated tokens (the last column is scratch)
    done: Any  # (B,) bool
    seen: Any  # (B, V) bool: tokens already in the row (repetition penalty)
    penalty: Any  # () float
    mask: Any  # (B, ceil(V / 32)) int32: packed allowed tokens (the grammar's), -1 = all
    logits: Any  # (B, V) float: the forward graph's output
    forward_graph: Any = None
    pick_graph: Any = None


def torch_cat(a: Any, b: Any) -> Any:
    """Concatenate along the head axis (dim 2)."""
    import torch

    return torch.cat((a, b), dim=2)


def _fuse(linears: list[Any], quantization: str = "none") -> Any:
    """One linear for several plain ``nn.Linear`` on the same input, else None.

    The result is a new linear holding the concatenated weights, quantized when
    ``quantization`` is ``int8`` (:class:`Int8Linear`) or ``int4`` (torchao), so the fused
    matmul runs the low-bit kernel. Already-quantized linears are left alone and called
    one by one.
    """
    import torch

    if not all(
        type(m) is torch.nn.Linear and type(m.weight) is torch.nn.Parameter for m in linears
    ):
        return None
    biases = [m.bias for m in linears]
    if any(b is not None for b in biases) and not all(b is not None for b in biases):
        return None
    with torch.no_grad():
        weight = torch.cat([m.weight for m in linears]).detach()
        bias = None if biases[0] is None else torch.cat(biases).detach()
    return _linear(weight, bias, quantization)


class Int8Linear:
    """A weight-only int8 linear on torch's own kernel (``aten._weight_int8pack_mm``).

    Per-output-channel symmetric int8 weights and one scale per channel; activations stay
    in the model's float dtype. One kernel per matmul, so it fuses into the CUDA graph as
    the float matmul does (torchao's int8 tensor dequantizes first: two kernels).
    """

    def __init__(self, weight: Any, bias: Any) -> None:
        import torch

        w = weight.detach().float()
        scale = (w.abs().amax(dim=1) / 127.0).clamp(min=1e-8)
        self.weight = torch.round(w / scale[:, None]).clamp(-127, 127).to(torch.int8)
        self.scale = scale.to(weight.dtype)
        self.bias = bias
        self.out_features = weight.shape[0]

    def __call__(self, x: Any) -> Any:
        import torch

        flat = x.reshape(-1, x.shape[-1])
        y = torch._weight_int8pack_mm(flat, self.weight, self.scale)
        if self.bias is not None:
            y = y + self.bias
        return y.view(*x.shape[:-1], self.out_features)


def _linear(weight: Any, bias: Any, quantization: str) -> Any:
    """An ``nn.Linear`` with these weights: ``int8`` on torch's int8 kernel, ``int4``
    with torchao (``_weight_int4pack_mm``), float for ``none``."""
    import torch

    from models.llm.engines.loader import quantize_model

    if quantization == "int8":
        return Int8Linear(weight, bias)

    out, inp = weight.shape
    lin = torch.nn.Linear(inp, out, bias=bias is not None, device=weight.device, dtype=weight.dtype)
    with torch.no_grad():
        lin.weight.copy_(weight)
        if bias is not None:
            lin.bias.copy_(bias)
    return quantize_model(lin.eval(), quantization, str(weight.device)) if quantization else lin


def _rotate_half(x: Any) -> Any:
    import torch

    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class GraphDecoder:
    """Greedy decoding of left-padded prompt batches on a Llama-architecture model.

    Args:
        model: a transformers ``LlamaForCausalLM`` (possibly with quantized linears).
        eos_ids: token ids that end a row.
        pad_id: token id written after a row has ended.
        graphs: capture CUDA graphs (default: when the model is on CUDA).
        quantization: ``none``, ``int8`` or ``int4``: the decoder's own (fused) copies of
            the projection weights are quantized, so every matmul but the tied
            ``lm_head`` runs a low-bit kernel (``int8``: ``_weight_int8pack_mm``;
            ``int4``: torchao's ``_weight_int4pack_mm``).
    """

    def __init__(
        self,
        model: Any,
        eos_ids: list[int],
        pad_id: int,
        graphs: bool | None = None,
        quantization: str = "none",
    ):

        if not self.supports(model):
            raise ValueError(f"GraphDecoder supports {_SUPPORTED}, not {model.config.model_type}")
        self.model = model
        self.pad_id = pad_id
        self.device = next(model.parameters()).device
        self._states: OrderedDict[tuple[int, int, int], _State] = OrderedDict()
        self._eos: Any = None
        self.eos_ids = list(eos_ids)
        self.graphs = self.device.type == "cuda" if graphs is None else graphs
        cfg = model.config
        self.n_heads = cfg.num_attention_heads
        self.n_kv = cfg.num_key_value_heads
        self.head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // self.n_heads
        self.layers = list(model.model.layers)
        self.dtype = model.model.embed_tokens.weight.dtype
        self._rope: Any = None
        self._bits: Any = None
        # q/k/v and gate/up projections as one matmul each (a copy of those weights),
        # plus o/down copies when quantized
        self.quantization = quantization
        q = quantization
        self._fused = [
            (
                _fuse([ly.self_attn.q_proj, ly.self_attn.k_proj, ly.self_attn.v_proj], q),
                _fuse([ly.mlp.gate_proj, ly.mlp.up_proj], q),
            )
            for ly in self.layers
        ]
        self._out = [
            (
                _fuse([ly.self_attn.o_proj], q) or ly.self_attn.o_proj,
                _fuse([ly.mlp.down_proj], q) or ly.mlp.down_proj,
            )
            if q != "none"
            else (ly.self_attn.o_proj, ly.mlp.down_proj)
            for ly in self.layers
        ]
        norm = self.layers[0].input_layernorm
        self._fast_norm = type(norm).__name__.endswith("RMSNorm") and hasattr(
            norm, "variance_epsilon"
        )

    @property
    def eos_ids(self) -> list[int]:
        """Token ids that end a row."""
        return self._eos_ids

    @eos_ids.setter
    def eos_ids(self, ids: list[int]) -> None:
        import torch

        self._eos_ids = list(ids)
        eos = torch.tensor(self._eos_ids, device=self.device)
        if getattr(self, "_eos", None) is not None and self._eos.shape == eos.shape:
            self._eos.copy_(eos)  # in place: captured graphs read this buffer
        else:
            self._eos = eos
            self._states.clear()  # graphs captured with the old buffer are stale

    @staticmethod
    def supports(model: Any) -> bool:
        """True for Llama-architecture causal LMs this decoder can run."""
        cfg = getattr(model, "config", None)
        inner = getattr(model, "model", None)
        return (
            getattr(cfg, "model_type", None) in _SUPPORTED
            and inner is not None
            and hasattr(inner, "layers")
            and hasattr(inner, "rotary_emb")
            and hasattr(model, "lm_head")
        )

    # -- the forward pass ------------------------------------------------------------------

    def _rope_table(self, length: int) -> tuple[Any, Any]:
        """cos/sin for positions [0, length), computed by the model's rotary module."""
        import torch

        if self._rope is None or self._rope[0].shape[0] < length:
            n = max(length, 1024)
            x = torch.zeros(1, 1, self.head_dim, device=self.device, dtype=self.dtype)
            pos = torch.arange(n, device=self.device)[None]
            with torch.no_grad():
                cos, sin = self.model.model.rotary_emb(x, pos)
            self._rope = (cos[0], sin[0])
        return self._rope

    def _norm(self, mod: Any, x: Any) -> Any:
        """The model's RMSNorm as one fused ``F.rms_norm`` kernel.

        transformers normalises in float32, rounds to the model dtype, then scales by
        the weight (a second rounding); the fused kernel rounds once. In float32 the two
        agree; in bfloat16 they differ by at most one unit in the last place.
        """
        import torch.nn.functional as F

        if self._fast_norm:
            return F.rms_norm(x, (x.shape[-1],), mod.weight, mod.variance_epsilon)
        return mod(x)

    def _attend(self, qs: Any, kk: Any, vv: Any, mask: Any, scale: float) -> Any:
        """Attention of (B, H, Q, D) queries over (B, KV, K, D) cached keys/values."""
        import torch.nn.functional as F

        b, _, q, d = qs.shape
        rep = self.n_heads // self.n_kv
        if q == 1:  # decode: a head group shares its KV head, no copy
            qg = qs.reshape(b, self.n_kv, rep, d)
            a = F.scaled_dot_product_attention(qg, kk, vv, attn_mask=mask, scale=scale)
            return a.reshape(b, self.n_heads, 1, d)
        if rep > 1:
            kk = kk.repeat_interleave(rep, dim=1)
            vv = vv.repeat_interleave(rep, dim=1)
        return F.scaled_dot_product_attention(qs, kk, vv, attn_mask=mask, scale=scale)

    def _forward(self, st: _State, ids: Any, pos: Any, slots: Any, mask: Any) -> Any:
        """Logits of the last query position; writes K/V of ``ids`` into ``slots``.

        ``ids``/``pos``: (B, Q); ``slots``: (Q,) cache slots; ``mask``: (B, 1, Q, K) bool
        over the first K cache slots, turned here into one additive mask for all layers.
        """
        import torch

        b, q = ids.shape
        nh, nkv, d = self.n_heads, self.n_kv, self.head_dim
        kspan = mask.shape[-1]
        zero = torch.zeros((), device=mask.device, dtype=self.dtype)
        mask = torch.where(mask, zero, torch.finfo(self.dtype).min)
        cos_t, sin_t = self._rope
        cos, sin = cos_t[pos].unsqueeze(2), sin_t[pos].unsqueeze(2)  # (B, Q, 1, D)
        h = self.model.model.embed_tokens(ids)
        for i, layer in enumerate(self.layers):
            attn, mlp = layer.self_attn, layer.mlp
            qkv_w, gate_up_w = self._fused[i]
            o_proj, down_proj = self._out[i]
            x = self._norm(layer.input_layernorm, h)
            if qkv_w is not None:
                qkv = qkv_w(x).view(b, q, nh + 2 * nkv, d)
                qk, vs = qkv[:, :, : nh + nkv], qkv[:, :, nh + nkv :]
            else:
                qk = torch_cat(attn.q_proj(x).view(b, q, nh, d), attn.k_proj(x).view(b, q, nkv, d))
                vs = attn.v_proj(x).view(b, q, nkv, d)
            qk = qk * cos + _rotate_half(qk) * sin  # rotary on queries and keys at once
            qs, ks = qk[:, :, :nh].transpose(1, 2), qk[:, :, nh:].transpose(1, 2)
            st.keys[i].index_copy_(2, slots, ks)
            st.values[i].index_copy_(2, slots, vs.transpose(1, 2))
            kk = st.keys[i][:, :, :kspan]
            vv = st.values[i][:, :, :kspan]
            a = self._attend(qs, kk, vv, mask, attn.scaling)
            h = h + o_proj(a.transpose(1, 2).reshape(b, q, -1))
            x = self._norm(layer.post_attention_layernorm, h)
            if gate_up_w is not None:
                gate, up = gate_up_w(x).chunk(2, dim=-1)
                h = h + down_proj(mlp.act_fn(gate) * up)
            else:
                h = h + mlp(x)
        h = self._norm(self.model.model.norm, h[:, -1:])
        return self.model.lm_head(h)[:, -1].float()

    def _pick(self, st: _State, logits: Any) -> Any:
        """Repetition penalty, greedy choice, end-of-text bookkeeping (graph-safe)."""
        import torch

        pen = torch.where(logits > 0, logits / st.penalty, logits * st.penalty)
        logits = torch.where(st.seen, pen, logits)
        words, bits = self._bit_index(logits.shape[-1])
        allowed = (st.mask[:, words] >> bits) & 1
        logits = torch.where(allowed.bool(), logits, torch.finfo(logits.dtype).min)
        nxt = logits.argmax(dim=-1)
        nxt = torch.where(st.done, torch.full_like(nxt, self.pad_id), nxt)
        st.seen.scatter_(1, nxt[:, None], True)
        st.done.logical_or_(torch.isin(nxt, self._eos))
        return nxt

    def _bit_index(self, vocab: int) -> tuple[Any, Any]:
        """Word and bit of every token id in a packed mask row (static tensors)."""
        import torch

        if self._bits is None or self._bits[0].shape[0] != vocab:
            ids = torch.arange(vocab, device=self.device, dtype=torch.int32)
            self._bits = (ids // 32, ids % 32)
        return self._bits

    def _forward_step(self, st: _State, width: int) -> None:
        """The decode step's forward pass into ``st.logits`` (the first CUDA graph)."""
        slot = (st.step + width).view(1)
        st.valid.index_fill_(1, slot, True)
        mask = st.valid[:, None, None, :]
        st.logits.copy_(self._forward(st, st.tok, st.pos, slot, mask))

    def _pick_step(self, st: _State) -> None:
        """The decode step's choice and bookkeeping (the second CUDA graph)."""
        nxt = self._pick(st, st.logits)
        st.out.index_copy_(1, (st.step + 1).view(1), nxt[:, None])
        st.tok.copy_(nxt[:, None])
        st.pos.add_(1)
        st.step.add_(1)

    def _step(self, st: _State, width: int) -> None:
        """One decode step on the static buffers (eager, or both graphs)."""
        if st.forward_graph is not None:
            st.forward_graph.replay()
            st.pick_graph.replay()
        else:
            self._forward_step(st, width)
            self._pick_step(st)

    # -- buffers and graphs ------------------------------------------------------------------

    def _state(self, rows: int, width: int, new: int) -> _State:
        import torch

        key = (rows, width, new)
        st = self._states.pop(key, None)
        if st is None:
            length = width + new
            dev = self.device
            shape = (rows, self.n_kv, length, self.head_dim)
            vocab = self.model.lm_head.out_features
            st = _State(
                keys=[torch.zeros(shape, device=dev, dtype=self.dtype) for _ in self.layers],
                values=[torch.zeros(shape, device=dev, dtype=self.dtype) for _ in self.layers],
                valid=torch.zeros(rows, length, device=dev, dtype=torch.bool),
                tok=torch.zeros(rows, 1, device=dev, dtype=torch.long),
                pos=torch.zeros(rows, 1, device=dev, dtype=torch.long),
                step=torch.zeros((), device=dev, dtype=torch.long),
                out=torch.zeros(rows, new + 1, device=dev, dtype=torch.long),  # +1: capture
                done=torch.zeros(rows, device=dev, dtype=torch.bool),
                seen=torch.zeros(rows, vocab, device=dev, dtype=torch.bool),
                penalty=torch.ones((), device=dev, dtype=torch.float32),
                mask=torch.full((rows, (vocab + 31) // 32), -1, device=dev, dtype=torch.int32),
                logits=torch.zeros(rows, vocab, device=dev, dtype=torch.float32),
            )
            self._rope_table(length)
            if self.graphs:
                self._capture(st, width)
        self._states[key] = st
        while len(self._states) > MAX_GRAPHS:
            self._states.popitem(last=False)
        return st

    def _capture(self, st: _State, width: int) -> None:
        import torch

        side = torch.cuda.Stream(device=self.device)
        side.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(side), torch.no_grad():
            for _ in range(2):  # warm-up: kernels chosen and workspaces allocated
                st.step.zero_()  # slot ``width`` and output column 1 exist for any length
                self._forward_step(st, width)
                self._pick_step(st)
            st.step.zero_()
        torch.cuda.current_stream(self.device).wait_stream(side)
        forward, pick = torch.cuda.CUDAGraph(), torch.cuda.CUDAGraph()
        with torch.cuda.graph(forward), torch.no_grad():
            self._forward_step(st, width)
        with torch.cuda.graph(pick, pool=forward.pool()), torch.no_grad():
            self._pick_step(st)
        st.forward_graph, st.pick_graph = forward, pick

    # -- generation ---------------------------------------------------------------------------

    def generate(
        self,
        batch: list[list[int]],
        max_new_tokens: int,
        repetition_penalty: float = 1.0,
        width: int | None = None,
        constraints: list[Any] | None = None,
        masks: Any = None,
    ) -> list[list[int]]:
        """New tokens per prompt (ending with an end-of-text id when the row finished).

        ``batch`` rows are left-padded to ``width`` (default: the longest prompt);
        callers that want few captured graphs round the width and the number of rows
        themselves (padding rows with copies of a real prompt). ``constraints`` (one
        :class:`~models.llm.grammar.Constraint` or ``None`` per row) restrict every
        row's tokens to its grammar; ``masks`` is the
        :class:`~models.llm.grammar.BatchMasks` that fills their bitmasks.
        """
        import torch

        if not batch or max_new_tokens < 1:
            return [[] for _ in batch]
        longest = max(len(ids) for ids in batch)
        if width is None or width < longest:
            width = longest
        rows = len(batch)
        st = self._state(rows, width, max_new_tokens)
        dev = self.device
        ids = torch.full((rows, width), self.pad_id, dtype=torch.long)
        real = torch.zeros((rows, width), dtype=torch.bool)
        for i, p in enumerate(batch):
            ids[i, width - len(p) :] = torch.tensor(p, dtype=torch.long)
            real[i, width - len(p) :] = True
        ids, real = ids.to(dev), real.to(dev)
        pos = (real.long().cumsum(1) - 1).clamp(min=0)
        with torch.no_grad():
            st.valid.zero_()
            st.valid[:, :width] = real
            st.done.zero_()
            st.out.zero_()
            st.step.zero_()
            st.penalty.fill_(float(repetition_penalty))
            st.seen.zero_()
            st.seen.scatter_(1, torch.where(real, ids, ids[:, -1:]), True)
            causal = torch.ones(width, width, device=dev, dtype=torch.bool).tril()
            eye = torch.eye(width, device=dev, dtype=torch.bool)
            mask = ((causal[None] & real[:, None, :]) | eye[None])[:, None]
            slots = torch.arange(width, device=dev)
            logits = self._forward(st, ids, pos, slots, mask)
            grammar = _Grammar(self, st, constraints, masks) if constraints else None
            if grammar is not None:
                grammar.upload()
            else:
                st.mask.fill_(-1)
            first = self._pick(st, logits)
            st.out[:, 0] = first
            st.tok.copy_(first[:, None])
            st.pos.copy_(pos[:, -1:] + 1)
            for k in range(1, max_new_tokens):
                if grammar is None:
                    self._step(st, width)
                    if k % CHECK_EVERY == 0 and bool(st.done.all()):
                        break
                    continue
                tokens = grammar.read()  # the previous step's tokens
                if st.forward_graph is not None:
                    st.forward_graph.replay()
                else:
                    self._forward_step(st, width)
                if not grammar.advance(tokens):  # overlaps the forward graph
                    break
                grammar.upload()
                if st.pick_graph is not None:
                    st.pick_graph.replay()
                else:
                    self._pick_step(st)
            out = st.out[:, :max_new_tokens].tolist()
        eos = set(self.eos_ids)
        result = []
        for row in out:
            cut = next((i for i, t in enumerate(row) if t in eos), None)
            result.append(row[: cut + 1] if cut is not None else row)
        return result


class _Grammar:
    """Host side of constrained decoding: read tokens, advance grammars, upload masks."""

    def __init__(self, decoder: GraphDecoder, st: _State, constraints: list[Any], masks: Any):
        import torch

        self.st = st
        self.rows = st.tok.shape[0]
        real = len(constraints)
        self.constraints = list(constraints) + [None] * (self.rows - real)
        self.masks = masks
        self.eos = set(decoder.eos_ids)
        pin = st.mask.device.type == "cuda"
        self.host_mask = torch.full(tuple(st.mask.shape), -1, dtype=torch.int32, pin_memory=pin)
        self.host_tok = torch.zeros(self.rows, dtype=torch.long, pin_memory=pin)
        self.finished = [i >= real for i in range(self.rows)]  # padding rows never count
        self.masks.fill(self.constraints, self.host_mask.numpy())

    def upload(self) -> None:
        self.st.mask.copy_(self.host_mask, non_blocking=True)

    def read(self) -> list[int]:
        """The tokens chosen by the last choice step (waits for them)."""
        import torch

        self.host_tok.copy_(self.st.tok.view(-1), non_blocking=True)
        if self.st.tok.device.type == "cuda":
            torch.cuda.current_stream(self.st.tok.device).synchronize()
        return self.host_tok.tolist()

    def advance(self, tokens: list[int]) -> bool:
        """Feed the tokens to the grammars and fill the next masks; False when every row
        has finished."""
        for i, c in enumerate(self.constraints):
            if self.finished[i]:
                continue
            tok = tokens[i]
            if tok in self.eos:
                self.finished[i] = True
                self.constraints[i] = None
            elif c is not None and not c.done and not c.advance(tok):  # not under the mask
                self.constraints[i] = None
        if all(self.finished):
            return False
        self.masks.fill(self.constraints, self.host_mask.numpy())
        return True
