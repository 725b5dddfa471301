"""Weight-only int8/int4 quantization of a loaded model with torchao.

Loading a GGUF dequantizes it to float weights; these functions quantize the
``nn.Linear`` weights again, in torch, so the model runs with int8 or int4 weights:

* ``int8``: ``Int8WeightOnlyConfig`` (per-channel int8), CPU and CUDA.
* ``int4`` on CUDA: ``Int4WeightOnlyConfig`` (group size 128, tile-packed for
  torch's ``_weight_int4pack_mm``), bfloat16 activations.
* ``int4`` on CPU: ``IntxWeightOnlyConfig(weight_dtype=torch.int4)`` (group size 32);
  torchao's packed int4 CPU layouts need extra kernel packages, so the int4 values are
  stored one per byte and dequantized in the matmul.

The tied ``lm_head`` is left in float so it keeps sharing the embedding matrix.
Which quantization is the default per device is :data:`DEFAULT_QUANTIZATION`, set
from ``benchmarks/llm_quant.py`` (see ``docs/llm.md``).
"""

from __future__ import annotations

from typing import Any

#: Measured default per device type (fastest within 1% entity fidelity of full precision).
#: On CUDA, bf16 through the CUDA-graph decoder (20,000 tokens/s for 64 alerts) beats
#: int8 (12,000: torchao's linears cannot be fused there) at equal entity fidelity.
DEFAULT_QUANTIZATION = {"cpu": "none", "cuda": "none"}


def default_quantization(device: str) -> str:
    """The default quantization for ``device`` (``cpu`` or ``cuda[:N]``)."""
    return DEFAULT_QUANTIZATION["cuda" if device.startswith("cuda") else "cpu"]


def _torchao_config(kind: str, device: str) -> Any:
    import torch

    try:
        from torchao.quantization import (
            Int4WeightOnlyConfig,
            Int8WeightOnlyConfig,
            IntxWeightOnlyConfig,
        )
        from torchao.quantization.granularity import PerGroup
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RuntimeError(f"quantization {kind!r} needs torchao: pip install torchao") from exc
    if kind == "int8":
        return Int8WeightOnlyConfig()
    if kind == "int4":
        if device.startswith("cuda"):
            return Int4WeightOnlyConfig(group_size=128, int4_packing_format="tile_packed_to_4d")
        return IntxWeightOnlyConfig(weight_dtype=torch.int4, granularity=PerGroup(32))
    raise ValueError(f"unknown quantization {kind!r}: expected none, int8 or int4")


def _is_quantizable(module: Any, fqn: str) -> bool:
    import torch

    return isinstance(module, torch.nn.Linear) and not fqn.endswith("lm_head")


def quantize_model(model: Any, kind: str, device: str) -> Any:
    """Quantize ``model``'s linear weights in place (``kind``: none, int8, int4)."""
    if kind == "none":
        return model
    import logging

    logging.getLogger("torchao").setLevel(logging.ERROR)
    from torchao.quantization import quantize_

    if kind == "int4" and device.startswith("cuda"):
        import torch

        model.to(torch.bfloat16)
    quantize_(model, _torchao_config(kind, device), filter_fn=_is_quantizable)
    return model


def tensor_bytes(t: Any) -> int:
    """Bytes held by a tensor, looking inside torchao tensor subclasses."""
    flatten = getattr(t, "__tensor_flatten__", None)
    if flatten is not None and type(t).__name__ not in ("Tensor", "Parameter"):
        names, _ = flatten()
        return sum(tensor_bytes(getattr(t, n)) for n in names)
    return t.numel() * t.element_size()


def weight_bytes(model: Any) -> int:
    """Bytes of all parameters and buffers (tied weights counted once)."""
    seen: set[int] = set()
    total = 0
    for t in [*model.parameters(), *model.buffers()]:
        if id(t) in seen:
            continue
        seen.add(id(t))
        total += tensor_bytes(t)
    return total
