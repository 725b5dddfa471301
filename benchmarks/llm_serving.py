"""Serving benchmark: 64 alert summaries with four decoding strategies.

(a) sequential ``generate`` (the baseline), (b) one padded static batch (eager),
(c) continuous batching (transformers' paged manager, eager), (d) compiled
static-cache decoding with CUDA graphs (CUDA only), (e) continuous batching with
the manager's CUDA graphs (CUDA only), and (f) the service's own engine
(``TransformersEngine`` with 64 concurrent ``generate`` calls) in its default mode.
Also: time to first token with and without reuse of the system prompt's KV cache,
and the memory-bandwidth bound of decoding.

Throughput does not depend on weight values: with ``--random`` (or when no GGUF is
given) the model has SmolLM2-135M's architecture and random weights, and end of
text is disabled so every alert decodes exactly ``--new-tokens`` tokens.

    python benchmarks/llm_serving.py --device cpu --alerts 16 --new-tokens 32
    python benchmarks/llm_serving.py --device cuda --alerts 64 --tok-dir .llmcarry/tok
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.support.llm import (
    bandwidth_gbs,
    load_real_or_random,
    mean,
    percentile,
    sync,
    table,
)


def _row(name: str, lat: list[float], wall: float, tokens: int, n: int, note: str = "") -> dict:
    return {
        "mode": name,
        "alerts": n,
        "alerts/s": n / wall,
        "tokens/s": tokens / wall,
        "p50 latency s": percentile(lat, 0.5),
        "p95 latency s": percentile(lat, 0.95),
        "wall s": wall,
        "note": note,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--alerts", type=int, default=64)
    ap.add_argument("--new-tokens", type=int, default=96)
    ap.add_argument(
        "--sequential-alerts",
        type=int,
        default=8,
        help="alerts run through the slow sequential baseline",
    )
    ap.add_argument("--gguf", default=None, help="real weights (default: random weights)")
    ap.add_argument("--tok-dir", default=None, help="tokenizer folder for random weights")
    ap.add_argument("--modes", default="a,b,c,d,e,f")
    ap.add_argument("--json-out", default=None)
    ap.add_argument(
        "--engine-quant",
        default="none",
        help="quantization of the service-engine row (f): none, int8, int4, auto",
    )
    args = ap.parse_args()

    import torch

    from benchmarks.support.sample_facts import simulated_facts
    from models.llm.config import LLMConfig
    from models.llm.engines.base import Decoding, GenerationRequest
    from models.llm.engines.continuous import ContinuousBridge
    from models.llm.engines.loader import weight_bytes
    from models.llm.engines.local import TransformersEngine
    from models.llm.engines.runner import HFRunner
    from models.llm.prompt import SYSTEM_PROMPT, PromptBuilder

    device = args.device
    cuda = device.startswith("cuda")
    dtype = torch.bfloat16 if cuda else torch.float32
    model, tok, desc = load_real_or_random(args.gguf, args.tok_dir, device, dtype)
    random_weights = "random" in desc
    runner = HFRunner(model, tok, device, SYSTEM_PROMPT, compile=False)
    if random_weights:  # decode a fixed number of tokens
        runner.eos_ids = [model.config.vocab_size + 7]
    builder = PromptBuilder()
    facts = simulated_facts(args.alerts, seed=1)
    prompts = [runner.encode(builder.messages(f)) for f in facts]
    dec = Decoding(max_new_tokens=args.new_tokens)
    modes = set(args.modes.split(","))
    rows: list[dict] = []
    print(
        f"# {desc}; device {device}; {len(prompts)} alerts; prompt tokens "
        f"mean {mean([len(p) for p in prompts]):.0f}; {args.new_tokens} new tokens",
        flush=True,
    )

    # warm-up (allocator, kernels)
    runner.generate_batch(prompts[:2], Decoding(max_new_tokens=4))

    if "a" in modes:
        k = min(args.sequential_alerts, len(prompts))
        lat, toks = [], 0
        sync(device)
        t0 = time.perf_counter()
        for p in prompts[:k]:
            out = runner.generate_one(p, dec, reuse_prefix=False)
            toks += out.completion_tokens
            sync(device)
            lat.append(time.perf_counter() - t0)
        wall = time.perf_counter() - t0
        rows.append(
            _row(
                "(a) sequential generate",
                lat,
                wall,
                toks,
                k,
                f"first {k} alerts; latency = queue + run",
            )
        )
        print(rows[-1], flush=True)

    if "b" in modes:
        sync(device)
        t0 = time.perf_counter()
        outs = runner.generate_batch(prompts, dec)
        sync(device)
        wall = time.perf_counter() - t0
        rows.append(
            _row(
                "(b) padded static batch, eager",
                [wall] * len(outs),
                wall,
                sum(o.completion_tokens for o in outs),
                len(outs),
            )
        )
        print(rows[-1], flush=True)

    async def run_bridge(use_graph: bool) -> tuple[list[float], float, int]:
        bridge = ContinuousBridge(
            runner,
            batch_size=len(prompts),
            max_new_tokens=args.new_tokens,
            max_prompt_tokens=max(len(p) for p in prompts) + 8,
            use_cuda_graph=use_graph,
        )
        bridge.start()
        try:
            await asyncio.gather(*(bridge.submit(p, Decoding(max_new_tokens=4)) for p in prompts))
            lat: list[float] = []
            t0 = time.perf_counter()

            async def one(p: list[int]) -> int:
                out = await bridge.submit(p, dec)
                lat.append(time.perf_counter() - t0)
                return out.completion_tokens

            toks = sum(await asyncio.gather(*(one(p) for p in prompts)))
            return lat, time.perf_counter() - t0, toks
        finally:
            bridge.stop()

    if "c" in modes:
        lat, wall, toks = asyncio.run(run_bridge(False))
        rows.append(
            _row(
                "(c) continuous batching, eager",
                lat,
                wall,
                toks,
                len(prompts),
                "paged cache, block sharing",
            )
        )
        print(rows[-1], flush=True)

    if cuda and "d" in modes:
        variants = [
            ("(d) static cache + torch.compile (transformers generate)", False),
            ("(d) static cache + one CUDA graph per step (GraphDecoder)", True),
        ]
        for name, graph in variants:
            crunner = HFRunner(model, tok, device, SYSTEM_PROMPT, compile=True, graph_decoder=graph)
            crunner.eos_ids = runner.eos_ids
            t0 = time.perf_counter()
            crunner.generate_batch(prompts, dec)  # compile / capture
            compile_s = time.perf_counter() - t0
            sync(device)
            t0 = time.perf_counter()
            outs = crunner.generate_batch(prompts, dec)
            sync(device)
            wall = time.perf_counter() - t0
            rows.append(
                _row(
                    name,
                    [wall] * len(outs),
                    wall,
                    sum(o.completion_tokens for o in outs),
                    len(outs),
                    f"compile/capture {compile_s:.1f} s once",
                )
            )
            print(rows[-1], flush=True)
            del crunner

    if cuda and "e" in modes:
        try:
            lat, wall, toks = asyncio.run(run_bridge(True))
            rows.append(
                _row("(e) continuous batching + CUDA graphs", lat, wall, toks, len(prompts))
            )
        except Exception as exc:  # report, keep the other rows
            rows.append(
                {
                    "mode": "(e) continuous batching + CUDA graphs",
                    "note": f"failed: {type(exc).__name__}: {str(exc)[:120]}",
                }
            )
        print(rows[-1], flush=True)

    if "f" in modes:
        cfg = LLMConfig(
            device=device,
            quantization=args.engine_quant,
            batch_size=len(prompts),
            max_new_tokens=args.new_tokens,
            batch_wait_ms=20,
        )
        engine = TransformersEngine(cfg, model=model, tokenizer=tok, model_name="bench")

        async def run_engine() -> tuple[list[float], float, int]:
            await engine.start()
            engine.runner.eos_ids = runner.eos_ids
            try:
                reqs = [GenerationRequest(builder.messages(f), dec) for f in facts]
                await asyncio.gather(*(engine.generate(r) for r in reqs))  # warm-up / compile
                lat: list[float] = []
                t0 = time.perf_counter()

                async def one(r: GenerationRequest) -> int:
                    out = await engine.generate(r)
                    lat.append(time.perf_counter() - t0)
                    return out.completion_tokens

                toks = sum(await asyncio.gather(*(one(r) for r in reqs)))
                return lat, time.perf_counter() - t0, toks
            finally:
                await engine.aclose()

        lat, wall, toks = asyncio.run(run_engine())
        rows.append(
            _row(
                f"(f) service engine ({engine.mode}, {engine.quantization})",
                lat,
                wall,
                toks,
                len(prompts),
                f"TransformersEngine, {len(prompts)} concurrent generate()",
            )
        )
        print(rows[-1], flush=True)

    # time to first token, with and without the system prompt's cached KV
    one_tok = Decoding(max_new_tokens=1)
    ttft = {}
    for reuse in (False, True):
        runner.generate_one(prompts[0], one_tok, reuse_prefix=reuse)
        times = []
        for p in prompts[:8]:
            sync(device)
            t0 = time.perf_counter()
            runner.generate_one(p, one_tok, reuse_prefix=reuse)
            sync(device)
            times.append(time.perf_counter() - t0)
        ttft[reuse] = 1000 * mean(times)

    wbytes = weight_bytes(model)
    bw = bandwidth_gbs(device, 1024 if cuda else 256)
    steps_bound = bw * 1e9 / wbytes  # decode steps/s if each step reads all weights once
    best = max((r for r in rows if "tokens/s" in r), key=lambda r: r["tokens/s"], default=None)
    share = ""
    if best:
        pct = 100 * best["tokens/s"] / (steps_bound * len(prompts))
        share = f"; best measured {best['tokens/s']:,.0f} tokens/s = {pct:.0f}% of it"
    print()
    print(
        f"machine: {platform.node()} {platform.processor() or platform.machine()}, "
        f"device {torch.cuda.get_device_name() if cuda else 'cpu'}, "
        f"torch {torch.__version__}, threads {torch.get_num_threads()}"
    )
    print(f"date: {datetime.now(UTC):%Y-%m-%d %H:%M UTC}; weights: {desc}")
    print()
    cols = [
        "mode",
        "alerts",
        "alerts/s",
        "tokens/s",
        "p50 latency s",
        "p95 latency s",
        "wall s",
        "note",
    ]
    print(table(rows, cols))
    print()
    print(
        f"TTFT (1 alert, prompt ~{len(prompts[0])} tokens): without prefix reuse "
        f"{ttft[False]:.1f} ms, with prefix reuse ({len(runner.prefix_ids)} tokens cached) "
        f"{ttft[True]:.1f} ms"
    )
    print(
        f"weights {wbytes / 1e6:.0f} MB; measured copy bandwidth {bw:.0f} GB/s -> at most "
        f"{steps_bound:,.0f} decode steps/s reading the weights once per step; "
        f"for a batch of {len(prompts)}: {steps_bound * len(prompts):,.0f} tokens/s bound" + share
    )
    if args.json_out:
        Path(args.json_out).write_text(
            json.dumps(
                {
                    "rows": rows,
                    "ttft_ms": ttft,
                    "weight_bytes": wbytes,
                    "bandwidth_gbs": bw,
                    "desc": desc,
                    "device": device,
                },
                default=str,
                indent=1,
            )
        )


if __name__ == "__main__":
    main()
