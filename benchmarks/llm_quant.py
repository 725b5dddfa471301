"""Quantization benchmark: full precision vs int8 vs int4 weight-only, same run.

For each device and quantization: weight memory, tokens/s (one request, and a
batch of all alerts), exact-match rate of greedy outputs against full precision,
entity fidelity (share of first answers that pass the grounding check and the
output format), and the share of LLM-written summaries after the one strict retry
(the rest get the template). The default per device is the fastest configuration
whose entity fidelity is within 1 point of full precision.

    python benchmarks/llm_quant.py --devices cpu --alerts 50
    python benchmarks/llm_quant.py --devices cpu,cuda --gguf /tmp/llm/model.gguf
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.support.llm import sync, table


def evaluate(model, tok, device: str, quant: str, facts, new_tokens: int, ref) -> dict:
    """Measure one (device, quantization) configuration."""
    from models.llm.engines.base import Decoding
    from models.llm.engines.loader import quantize_model, weight_bytes
    from models.llm.engines.runner import HFRunner
    from models.llm.grounding import GroundingCheck
    from models.llm.output import normalize_summary
    from models.llm.prompt import SYSTEM_PROMPT, PromptBuilder

    t = time.perf_counter()
    quantize_model(model, quant, device)
    quant_s = time.perf_counter() - t
    runner = HFRunner(model, tok, device, SYSTEM_PROMPT, compile=False)
    builder = PromptBuilder()
    prefixes = [builder.answer_prefix(f) for f in facts]  # as the Summarizer primes answers
    prompts = [
        runner.encode(builder.messages(f)) + tok.encode(p, add_special_tokens=False)
        for f, p in zip(facts, prefixes, strict=True)
    ]
    dec = Decoding(max_new_tokens=new_tokens)
    runner.generate_batch(prompts[:2], Decoding(max_new_tokens=2))  # warm-up

    one_toks, t = 0, time.perf_counter()
    for p in prompts[:3]:
        one_toks += runner.generate_one(p, dec).completion_tokens
    sync(device)
    one_tps = one_toks / (time.perf_counter() - t)

    sync(device)
    t = time.perf_counter()
    outs = runner.generate_batch(prompts, dec)
    sync(device)
    batch_s = time.perf_counter() - t
    batch_tps = sum(o.completion_tokens for o in outs) / batch_s

    texts, ok, codes = [], [], []
    for f, o, p in zip(facts, outs, prefixes, strict=True):
        o.text = f"{p} {o.text.lstrip()}" if p else o.text
        fmt = normalize_summary(o.text, truncated=o.truncated)
        rep = GroundingCheck(f).check(fmt.text)
        texts.append(o.text)
        ok.append(fmt.ok and rep.ok)
        codes.append([*fmt.problems, *rep.codes])
    retry_idx = [i for i, good in enumerate(ok) if not good]
    retry_ok = 0
    if retry_idx:
        strict = Decoding(max_new_tokens=new_tokens, strict=True)
        rprompts = [
            runner.encode(builder.strict_messages(facts[i], codes[i]))
            + tok.encode(prefixes[i], add_special_tokens=False)
            for i in retry_idx
        ]
        routs = runner.generate_batch(rprompts, strict)
        for i, o in zip(retry_idx, routs, strict=True):
            o.text = f"{prefixes[i]} {o.text.lstrip()}" if prefixes[i] else o.text
            fmt = normalize_summary(o.text, truncated=o.truncated)
            retry_ok += int(fmt.ok and GroundingCheck(facts[i]).check(fmt.text).ok)
    n = len(facts)
    return {
        "device": device,
        "quantization": quant,
        "weights MB": weight_bytes(model) / 1e6,
        "tokens/s (1 request)": one_tps,
        f"tokens/s (batch {n})": batch_tps,
        "exact match vs none": (
            sum(a == b for a, b in zip(texts, ref, strict=True)) / n if ref else 1.0
        ),
        "entity fidelity": sum(ok) / n,
        "LLM share after retry": (sum(ok) + retry_ok) / n,
        "quantize s": quant_s,
        "_texts": texts,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--devices", default="cpu")
    ap.add_argument("--quants", default="none,int8,int4")
    ap.add_argument("--alerts", type=int, default=50)
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--gguf", default=None, help="GGUF file (default: the bundled one)")
    ap.add_argument("--json-out", default=None)
    args = ap.parse_args()

    import torch

    from benchmarks.support.sample_facts import simulated_facts
    from models.llm.engines.loader import load_model, load_tokenizer, resolve_source

    src = resolve_source(args.gguf)
    tok = load_tokenizer(src)
    t = time.perf_counter()
    base = load_model(src, "cpu", torch.float32)
    load_s = time.perf_counter() - t
    facts = simulated_facts(args.alerts, seed=7)
    rows = []
    for device in args.devices.split(","):
        ref = None
        for quant in args.quants.split(","):
            dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
            model = copy.deepcopy(base).to(device=device, dtype=dtype).eval()
            try:
                row = evaluate(model, tok, device, quant, facts, args.new_tokens, ref)
            except Exception as exc:  # keep the other rows, say what failed
                row = {
                    "device": device,
                    "quantization": quant,
                    "note": f"failed: {type(exc).__name__}: {str(exc)[:150]}",
                }
            if quant == "none" and "_texts" in row:
                ref = row["_texts"]
            rows.append(row)
            print({k: v for k, v in row.items() if k != "_texts"}, flush=True)
            del model
            if device.startswith("cuda"):
                torch.cuda.empty_cache()
    defaults = {}
    for device in args.devices.split(","):
        dev_rows = [r for r in rows if r["device"] == device and "entity fidelity" in r]
        full = next((r for r in dev_rows if r["quantization"] == "none"), None)
        if full is None:
            continue
        key = f"tokens/s (batch {args.alerts})"
        ok = [r for r in dev_rows if r["entity fidelity"] >= full["entity fidelity"] - 0.01]
        best = max(ok, key=lambda r: r[key])
        defaults[device] = best["quantization"]
        best["default"] = "yes"
    print()
    print(
        f"machine: {platform.node()} {platform.machine()}, torch {torch.__version__}, "
        f"threads {torch.get_num_threads()}"
        + (f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else "")
    )
    print(
        f"date: {datetime.now(UTC):%Y-%m-%d %H:%M UTC}; model {src.name} "
        f"(GGUF load+dequantize {load_s:.0f} s); {args.alerts} simulated alerts, "
        f"greedy, {args.new_tokens} new tokens, eager"
    )
    print()
    cols = [
        "device",
        "quantization",
        "weights MB",
        "tokens/s (1 request)",
        f"tokens/s (batch {args.alerts})",
        "exact match vs none",
        "entity fidelity",
        "LLM share after retry",
        "default",
        "note",
    ]
    print(table(rows, cols))
    print(f"\ndefaults (fastest within 1 point of full-precision entity fidelity): {defaults}")
    if args.json_out:
        Path(args.json_out).write_text(
            json.dumps(
                {
                    "rows": [{k: v for k, v in r.items() if k != "_texts"} for r in rows],
                    "defaults": defaults,
                    "samples": {
                        f"{r['device']}/{r['quantization']}": r.get("_texts", [])[:5] for r in rows
                    },
                },
                indent=1,
                default=str,
            )
        )


if __name__ == "__main__":
    main()
