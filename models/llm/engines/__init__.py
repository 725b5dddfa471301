"""Engines behind the summarizer's :class:`Engine` interface (:mod:`~models.llm.engines.base`).

- :class:`LlamaCppEngine` (:mod:`~models.llm.engines.llamacpp`, the CPU default): the GGUF
  run directly by llama.cpp (its Q4_1 kernels), continuous batching, shared prefix cache,
  grammar-constrained decoding;
- :class:`TransformersEngine` (:mod:`models.llm.engines.hf`, the CUDA default): in-process
  transformers with static batches decoded by CUDA graphs, optionally quantized;
- :class:`OpenAIEngine` (:mod:`~models.llm.engines.openai_server`): an external
  OpenAI-compatible server (vLLM).

:mod:`~models.llm.engines.loader` finds the model (never on a hub), quantizes torch
weights and picks the default engine and quantization.
"""

from models.llm.engines.base import Decoding, Engine, GenerationOutput, GenerationRequest
from models.llm.engines.hf import TransformersEngine
from models.llm.engines.llamacpp import LlamaCppEngine
from models.llm.engines.openai_server import OpenAIEngine

__all__ = [
    "Decoding",
    "Engine",
    "GenerationOutput",
    "GenerationRequest",
    "LlamaCppEngine",
    "OpenAIEngine",
    "TransformersEngine",
]
