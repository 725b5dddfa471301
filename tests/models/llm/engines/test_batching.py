"""Batching, queueing, cancellation, timeouts and back-pressure on a tiny random Llama."""

from __future__ import annotations

import asyncio

import pytest

from benchmarks.support.random_model import random_llama, tiny_tokenizer
from models.llm.config import LLMConfig
from models.llm.engines.base import Decoding, GenerationRequest
from models.llm.engines.hf.local import TransformersEngine
from models.llm.errors import QueueFull, SummaryTimeout
from models.llm.summarizer import Summarizer
from tests.models.llm.test_prompt import make_facts

pytestmark = pytest.mark.asyncio

SYSTEM = "You summarize alerts."


@pytest.fixture(scope="module")
def tiny() -> tuple:
    import torch

    torch.set_num_threads(1)
    tok = tiny_tokenizer()
    return random_llama(vocab_size=len(tok)), tok


def _requests(n: int) -> list[GenerationRequest]:
    return [
        GenerationRequest(
            [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": "host WS01 " * (i + 1)},
            ],
            Decoding(max_new_tokens=6 + i % 3),
        )
        for i in range(n)
    ]


def _engine(tiny, **cfg) -> TransformersEngine:
    model, tok = tiny
    config = LLMConfig(device="cpu", quantization="none", **cfg)
    prefix = [{"role": "system", "content": SYSTEM}]
    return TransformersEngine(config, model=model, tokenizer=tok, prefix_messages=prefix)


def _reference(engine: TransformersEngine, reqs: list[GenerationRequest]) -> list[list[int]]:
    runner = engine.runner
    assert runner is not None
    return [
        runner.tokenizer.encode(
            runner.generate_one(runner.encode(r.messages), r.decoding, reuse_prefix=False).text
        )
        for r in reqs
    ]


@pytest.mark.parametrize("mode", ["continuous", "static", "sequential"])
async def test_concurrent_results_match_their_own_request(tiny, mode: str) -> None:
    engine = _engine(tiny, batching=mode, batch_size=4, batch_wait_ms=20)
    await engine.start()
    try:
        reqs = _requests(6)
        outs = await asyncio.gather(*(engine.generate(r) for r in reqs))
        ref = _reference(engine, reqs)
        for i, (out, r) in enumerate(zip(outs, reqs, strict=True)):
            assert out.prompt_tokens == len(engine.runner.encode(r.messages)), i
            assert out.completion_tokens <= r.decoding.max_new_tokens
            assert engine.runner.tokenizer.encode(out.text) == ref[i], (mode, i)
        if mode == "static":
            # FIFO batches of at most batch_size, grouped by decoding settings.
            assert sum(engine.batches) == 6 and max(engine.batches) <= 4
        if mode == "sequential":
            assert engine.batches == [1] * 6
    finally:
        await engine.aclose()


async def test_prefix_cache_reuse_gives_same_tokens(tiny) -> None:
    engine = _engine(tiny, batching="sequential")
    await engine.start()
    try:
        runner = engine.runner
        ids = runner.encode(_requests(1)[0].messages)
        with_prefix = runner.generate_one(ids, Decoding(max_new_tokens=8))
        without = runner.generate_one(ids, Decoding(max_new_tokens=8), reuse_prefix=False)
        assert with_prefix.cached_prompt_tokens == len(runner.prefix_ids) > 0
        assert without.cached_prompt_tokens == 0
        assert with_prefix.text == without.text
    finally:
        await engine.aclose()


@pytest.mark.parametrize("mode", ["continuous", "static"])
async def test_cancelled_request_is_dropped_and_engine_keeps_working(tiny, mode: str) -> None:
    engine = _engine(tiny, batching=mode, batch_size=2, batch_wait_ms=50)
    await engine.start()
    try:
        reqs = _requests(3)
        tasks = [asyncio.create_task(engine.generate(r)) for r in reqs]
        await asyncio.sleep(0)
        tasks[1].cancel()
        done = await asyncio.gather(*tasks, return_exceptions=True)
        assert isinstance(done[1], asyncio.CancelledError)
        assert all(not isinstance(d, BaseException) for d in (done[0], done[2]))
        if mode == "static":
            assert sum(engine.batches) == 2  # the cancelled one never ran
        again = await engine.generate(reqs[1])
        assert again.prompt_tokens == done[0].prompt_tokens + 2 or again.prompt_tokens > 0
    finally:
        await engine.aclose()


async def test_queue_full_raises_and_timeout_raises(tiny) -> None:
    engine = _engine(
        tiny, batching="sequential", max_new_tokens=64, batch_size=1, queue_size=2, timeout_s=30
    )
    summarizer = Summarizer(engine.config, engine=engine)
    await summarizer.start()
    try:
        facts = [make_facts(alert_id=f"a{i}") for i in range(4)]
        tasks = [asyncio.create_task(summarizer.summarize(f)) for f in facts]
        results = await asyncio.gather(*tasks, return_exceptions=True)
        # one running + two waiting; the fourth is refused at once
        assert isinstance(results[3], QueueFull)
        for r in results[:3]:
            assert not isinstance(r, BaseException), r
            assert r.grounded and r.source in ("llm", "template")
        assert summarizer.waiting == 0

        quick = Summarizer(engine.config.with_(timeout_s=0.001), engine=engine)
        await quick.start()
        with pytest.raises(SummaryTimeout):
            await quick.summarize(facts[0])
        assert quick.waiting == 0
        # the engine still serves after a timed-out request
        ok = await summarizer.summarize(facts[1])
        assert ok.grounded
    finally:
        await summarizer.aclose()


async def test_random_model_output_never_returned_ungrounded(tiny) -> None:
    engine = _engine(tiny, batching="static", max_new_tokens=12, batch_size=4)
    async with Summarizer(engine.config, engine=engine) as summarizer:
        results = await summarizer.summarize_many([make_facts(alert_id=f"b{i}") for i in range(3)])
    for r in results:
        # A random model writes noise: the check rejects it twice, the template answers.
        assert r.source == "template" and r.grounded and r.attempts == 2
        assert len(r.rejected) == 2
        assert "alice@corp.local" in r.text and "WS01" in r.text


async def test_batched_text_encoding_equals_per_request_encoding(tiny) -> None:
    engine = _engine(tiny, batching="static", batch_size=4)
    await engine.start()
    try:
        runner = engine.runner
        reqs = _requests(3)
        texts = [runner.render(r.messages) for r in reqs]
        assert runner.encode_texts(texts) == [runner.encode(r.messages) for r in reqs]
    finally:
        await engine.aclose()
