"""The in-process transformers engine (the CUDA default; also runs on CPU).

:class:`TransformersEngine` (:mod:`~models.llm.engines.hf.local`) loads the model
(:mod:`models.llm.engines.loader`) and serves concurrent requests through padded static
batches (:mod:`~models.llm.engines.hf.batching` over :mod:`~models.llm.engines.hf.runner`,
whose CUDA path decodes with :class:`GraphDecoder`, :mod:`~models.llm.engines.hf.graph_decode`),
sequential generation with prefix reuse, or transformers' continuous batching
(:mod:`~models.llm.engines.hf.continuous`; unconstrained only).
"""

from models.llm.engines.hf.batching import BatchCollector
from models.llm.engines.hf.continuous import ContinuousBridge
from models.llm.engines.hf.graph_decode import GraphDecoder
from models.llm.engines.hf.local import TransformersEngine
from models.llm.engines.hf.runner import HFRunner

__all__ = ["BatchCollector", "ContinuousBridge", "GraphDecoder", "HFRunner", "TransformersEngine"]
