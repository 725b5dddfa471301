"""Engines behind the summarizer's :class:`Engine` interface (:mod:`~models.llm.engines.base`).

- :class:`TransformersEngine` (:mod:`~models.llm.engines.local`, default): in-process
  transformers, with the model located, loaded from local files only and optionally
  quantized (:mod:`~models.llm.engines.loader`), and batching by
  :mod:`~models.llm.engines.continuous` (transformers' continuous batching) or
  :mod:`~models.llm.engines.batching` over :mod:`~models.llm.engines.runner`, whose CUDA
  path decodes with :mod:`~models.llm.engines.graph_decode`;
- :class:`OpenAIEngine` (:mod:`~models.llm.engines.openai_server`): an external
  OpenAI-compatible server (vLLM, llama.cpp server).
"""

from models.llm.engines.base import Decoding, Engine, GenerationOutput, GenerationRequest
from models.llm.engines.local import TransformersEngine
from models.llm.engines.openai_server import OpenAIEngine

__all__ = [
    "Decoding",
    "Engine",
    "GenerationOutput",
    "GenerationRequest",
    "OpenAIEngine",
    "TransformersEngine",
]
