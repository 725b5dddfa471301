"""Helpers shared by the LLM benchmarks (model setup, timing, tables)."""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values`` (nearest rank)."""
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


def table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """A Markdown table of ``rows``."""

    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:,.1f}" if abs(v) >= 10 else f"{v:.3g}"
        return str(v)

    out = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    out += ["| " + " | ".join(fmt(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(out)


def sync(device: str) -> None:
    """Wait for queued GPU work."""
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def bandwidth_gbs(device: str, mib: int = 1024) -> float:
    """Measured copy bandwidth (bytes read + written per second, GB/s)."""
    import torch

    n = mib * (1 << 20) // 4
    a = torch.empty(n, dtype=torch.float32, device=device)
    b = torch.empty_like(a)
    b.copy_(a)
    sync(device)
    reps = 10 if device.startswith("cuda") else 3
    t = time.perf_counter()
    for _ in range(reps):
        b.copy_(a)
    sync(device)
    dt = time.perf_counter() - t
    return 2 * a.numel() * 4 * reps / dt / 1e9


def load_real_or_random(
    gguf: str | None, tok_dir: str | None, device: str, dtype: Any
) -> tuple[Any, Any, str]:
    """The real GGUF model when ``gguf`` exists, else random SmolLM2-135M weights.

    Returns (model, tokenizer, description).
    """
    from benchmarks.support.random_model import SMOLLM2_135M, random_llama, tiny_tokenizer
    from models.llm.engines.loader import load_model, load_tokenizer, resolve_source

    if gguf and Path(gguf).is_file():
        src = resolve_source(gguf)
        tok = load_tokenizer(src)
        return load_model(src, device, dtype), tok, "SmolLM2-135M-Instruct (GGUF Q4_1, dequantized)"
    if tok_dir and Path(tok_dir).is_dir():
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(tok_dir, local_files_only=True)
        tok.padding_side = "left"
        vocab = SMOLLM2_135M["vocab_size"]
        desc = "random weights, SmolLM2-135M architecture, real tokenizer"
    else:
        tok = tiny_tokenizer()
        vocab = len(tok)
        desc = "random weights, SmolLM2-135M architecture, tiny tokenizer"
    model = random_llama(dict(SMOLLM2_135M), vocab_size=vocab, dtype=dtype, device=device)
    return model, tok, desc


def mean(values: list[float]) -> float:
    """Arithmetic mean (nan when empty)."""
    return statistics.fmean(values) if values else float("nan")
