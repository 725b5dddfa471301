"""Serving benchmark: alert summaries through the default engine, beside a baseline.

CPU (``--device cpu``): the new default (:class:`Summarizer` with ``LLMConfig()``:
llama.cpp running the Q4_1 GGUF directly, continuous batching, grammar-constrained,
verified) beside the previous default (transformers in float32 -- the GGUF dequantized --
with its continuous batching manager, the old two-sentence primed prompt, no grammar;
``benchmarks/support/previous.py``), both with the real bundled weights, in one run: one
alert end to end, then ``--alerts`` concurrent alerts.

CUDA (``--device cuda``): the service's own transformers engine (static batches, CUDA-graph
decoder) with ``--alerts`` concurrent ``generate()`` calls, per quantization (bf16, int8,
int4 fused into the graph decoder), with and without the summary grammar, beside the raw
graph decoder. ``--gguf`` gives the real weights; without it the weights are random
(SmolLM2-135M's architecture, real tokenizer from ``--tok-dir``) and end of text is
disabled, so every row decodes ``--new-tokens`` tokens.

    python benchmarks/llm_serving.py --device cpu --alerts 16
    python benchmarks/llm_serving.py --device cuda --alerts 64 --gguf model.gguf
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.support.llm import mean, percentile, sync, table


def _load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def _row(name: str, lat: list[float], wall: float, tokens: int, n: int, **extra) -> dict:
    return {
        "mode": name,
        "alerts": n,
        "wall s": wall,
        "p50 latency s": percentile(lat, 0.5),
        "max latency s": max(lat) if lat else float("nan"),
        "completion tokens": tokens,
        "tokens/s": tokens / wall,
        "load": _load(),
        **extra,
    }


# -- CPU: new default beside the previous default -----------------------------------------


async def _new_default(facts, concurrent: int) -> list[dict]:
    from models.llm.config import LLMConfig
    from models.llm.summarizer import Summarizer

    rows = []
    cfg = LLMConfig(batch_size=max(16, concurrent), timeout_s=3600, queue_size=4096)
    t0 = time.perf_counter()
    async with Summarizer(cfg) as s:
        start_s = time.perf_counter() - t0
        await s.summarize(facts[-1])  # warm-up
        lat = []
        for f in facts[:3]:  # one alert at a time, end to end
            t = time.perf_counter()
            r = await s.summarize(f)
            lat.append(time.perf_counter() - t)
        rows.append(
            _row(
                "new default: 1 alert (llama.cpp Q4_1, grammar, verifier)",
                lat,
                mean(lat),
                r.completion_tokens,
                1,
                note=f"mean of 3 alerts; engine start {start_s:.1f} s; {r.source}",
            )
        )
        t = time.perf_counter()
        lat = []

        async def one(f):
            out = await s.summarize(f)
            lat.append(time.perf_counter() - t)
            return out

        results = await asyncio.gather(*(one(f) for f in facts[:concurrent]))
        wall = time.perf_counter() - t
        share = sum(r.source == "llm" for r in results) / len(results)
        rows.append(
            _row(
                f"new default: {concurrent} concurrent",
                lat,
                wall,
                sum(r.completion_tokens for r in results),
                concurrent,
                note=f"LLM share {share:.2f}; {s.engine.quantization}",
            )
        )
    return rows


async def _previous_default(facts, concurrent: int) -> list[dict]:
    import torch

    from benchmarks.support import previous
    from models.llm.engines.base import Decoding
    from models.llm.engines.hf.continuous import ContinuousBridge
    from models.llm.engines.hf.runner import HFRunner
    from models.llm.engines.loader import load_model, load_tokenizer, resolve_source

    t0 = time.perf_counter()
    src = resolve_source(None)
    tok = load_tokenizer(src)
    model = load_model(src, "cpu", torch.float32)
    system = [{"role": "system", "content": previous.SYSTEM_PROMPT}]
    runner = HFRunner(model, tok, "cpu", system, compile=False)
    bridge = ContinuousBridge(runner, max(16, concurrent), previous.MAX_NEW_TOKENS)
    bridge.start()
    start_s = time.perf_counter() - t0
    dec = Decoding(max_new_tokens=previous.MAX_NEW_TOKENS)

    def ids(f):
        prefix = previous.answer_prefix(f)
        extra = tok.encode(prefix, add_special_tokens=False) if prefix else []
        return runner.encode(previous.messages(f)) + extra

    rows = []
    try:
        await bridge.submit(ids(facts[-1]), dec)  # warm-up
        lat, toks = [], 0
        for f in facts[:3]:
            t = time.perf_counter()
            out = await bridge.submit(ids(f), dec)
            lat.append(time.perf_counter() - t)
            toks = out.completion_tokens
        rows.append(
            _row(
                "previous default: 1 alert (transformers fp32, continuous)",
                lat,
                mean(lat),
                toks,
                1,
                note=f"mean of 3 alerts; engine start {start_s:.1f} s; no grammar/verifier",
            )
        )
        t = time.perf_counter()
        lat = []

        async def one(f):
            out = await bridge.submit(ids(f), dec)
            lat.append(time.perf_counter() - t)
            return out.completion_tokens

        toks = sum(await asyncio.gather(*(one(f) for f in facts[:concurrent])))
        rows.append(
            _row(
                f"previous default: {concurrent} concurrent",
                lat,
                time.perf_counter() - t,
                toks,
                concurrent,
                note="fp32 weights, 96 new tokens max",
            )
        )
    finally:
        bridge.stop()
    return rows


def run_cpu(args) -> list[dict]:
    from benchmarks.support.sample_facts import simulated_facts

    facts = simulated_facts(max(args.alerts, 4) + 1, seed=1, injection_every=0)
    rows = asyncio.run(_previous_default(facts, args.alerts))
    for r in rows:
        print(r, flush=True)
    new = asyncio.run(_new_default(facts, args.alerts))
    for r in new:
        print(r, flush=True)
    return rows + new


# -- CUDA: the service engine per quantization, with and without the grammar -------------


def run_cuda(args) -> list[dict]:
    import torch

    from benchmarks.support.llm import load_real_or_random
    from benchmarks.support.sample_facts import simulated_facts
    from models.llm.config import LLMConfig
    from models.llm.engines.base import Decoding, GenerationRequest
    from models.llm.engines.hf.local import TransformersEngine
    from models.llm.engines.hf.runner import HFRunner
    from models.llm.grammar import summary_grammar
    from models.llm.prompt import PromptBuilder

    device = args.device
    model, tok, desc = load_real_or_random(args.gguf, args.tok_dir, device, torch.bfloat16)
    random_weights = "random" in desc
    builder = PromptBuilder()
    facts = simulated_facts(args.alerts, seed=1)
    prefix = builder.prefix_messages()
    dec = Decoding(max_new_tokens=args.new_tokens)
    rows = []
    print(f"# {desc}; {args.alerts} alerts; {args.new_tokens} new tokens max", flush=True)

    raw = HFRunner(model, tok, device, prefix, compile=True)
    if random_weights:
        raw.eos_ids = [model.config.vocab_size + 7]
    prompts = [raw.encode(builder.messages(f)) for f in facts]
    raw.generate_batch(prompts, dec)  # capture
    sync(device)
    t = time.perf_counter()
    outs = raw.generate_batch(prompts, dec)
    sync(device)
    wall = time.perf_counter() - t
    rows.append(
        _row(
            "graph decoder alone, bf16, no grammar",
            [wall] * len(outs),
            wall,
            sum(o.completion_tokens for o in outs),
            len(outs),
            note=f"prompt tokens mean {mean([len(p) for p in prompts]):.0f}",
        )
    )
    print(rows[-1], flush=True)
    del raw

    for quant in args.quants.split(","):
        for grammar in (False, True):
            cfg = LLMConfig(
                engine="transformers",
                device=device,
                quantization=quant,
                batch_size=len(facts),
                max_new_tokens=args.new_tokens,
                batch_wait_ms=20,
            )
            engine = TransformersEngine(cfg, model=model, tokenizer=tok, model_name="bench")

            async def go(engine=engine, grammar=grammar):
                await engine.start()
                if random_weights:  # the grammar keeps the real end of text; rows do not
                    engine.runner.constraints([summary_grammar(facts[0])])
                    engine.runner.eos_ids = [model.config.vocab_size + 7]
                try:
                    reqs = [
                        GenerationRequest(
                            builder.messages(f), dec, summary_grammar(f) if grammar else None
                        )
                        for f in facts
                    ]
                    await asyncio.gather(*(engine.generate(r) for r in reqs))  # capture
                    lat: list[float] = []
                    t0 = time.perf_counter()

                    async def one(r):
                        out = await engine.generate(r)
                        lat.append(time.perf_counter() - t0)
                        return out

                    outs = await asyncio.gather(*(one(r) for r in reqs))
                    return lat, time.perf_counter() - t0, outs
                finally:
                    await engine.aclose()

            try:
                lat, wall, outs = asyncio.run(go())
            except Exception as exc:  # keep the other rows, say what failed
                rows.append({"mode": f"service engine, {quant}", "note": f"failed: {exc!r}"[:160]})
                print(rows[-1], flush=True)
                continue
            rows.append(
                _row(
                    f"service engine (static, {quant}), {'grammar' if grammar else 'no grammar'}",
                    lat,
                    wall,
                    sum(o.completion_tokens for o in outs),
                    len(outs),
                    note=f"{len(facts)} concurrent generate()",
                )
            )
            print(rows[-1], flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--alerts", type=int, default=16)
    ap.add_argument("--new-tokens", type=int, default=192, help="CUDA: token budget per alert")
    ap.add_argument("--quants", default="none,int8,int4", help="CUDA: quantizations to run")
    ap.add_argument("--gguf", default=None, help="CUDA: real weights (default: random)")
    ap.add_argument("--tok-dir", default=None, help="CUDA: tokenizer folder for random weights")
    ap.add_argument("--json-out", default=None)
    args = ap.parse_args()

    import torch

    cuda = args.device.startswith("cuda")
    load_before = _load()
    rows = run_cuda(args) if cuda else run_cpu(args)
    print()
    print(
        f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, "
        f"device {torch.cuda.get_device_name() if cuda else 'cpu'}, torch {torch.__version__}; "
        f"load average before {load_before}, after {_load()}"
    )
    print(f"date: {datetime.now(UTC):%Y-%m-%d %H:%M UTC}")
    print()
    cols = [
        "mode",
        "alerts",
        "wall s",
        "p50 latency s",
        "max latency s",
        "completion tokens",
        "tokens/s",
        "load",
        "note",
    ]
    print(table(rows, cols))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(rows, indent=1, default=str))


if __name__ == "__main__":
    main()
