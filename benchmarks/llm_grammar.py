"""Structured-generation libraries side by side: llguidance, xgrammar, outlines-core.

The same per-alert summary grammar (four labelled parts; sentences of free lower-case
words, punctuation and entity slots holding the alert's values) in each library's
format, with SmolLM2's real 49,152-token vocabulary: grammar compile time per alert, and
the time to compute one token mask while replaying a valid answer (mean and p95), on
this machine's CPU -- the masks are CPU work whatever device decodes. Only llguidance's
Lark dialect has regex negation (``~``), which the summarizer uses to keep the alert's
ban list (unsupported tools, actions, relative time, verdicts) out of the free text; the
xgrammar and outlines rows run the grammar without the ban list.

xgrammar and outlines-core are not hopwatch dependencies; install them to run this:
``pip install --no-deps xgrammar apache-tvm-ffi outlines-core``.

    python benchmarks/llm_grammar.py --alerts 10
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.support.llm import percentile, table


def answer(facts) -> str:
    """A valid labelled answer for ``facts`` (what the replay feeds the matchers)."""
    from models.llm.grammar.summary import band
    from models.llm.verify.support import utc_naive

    first = utc_naive(facts.first_seen)
    user, src, dst = facts.user, facts.src_host, facts.dst_hosts[0]
    return (
        f"What happened: {user} moved from {src} to {dst} at {first:%H:%M} UTC on "
        f"{first:%Y-%m-%d}.\n"
        f"Why flagged: The score is {facts.score:.2f} because this host pair was never seen "
        f"before.\nCheck next: Look for new logons on {dst} around {first:%H:%M} UTC.\n"
        f"Confidence: {band(facts.score)}, with a score of {facts.score:.2f}."
    )


def _parts(facts):
    from models.llm.grammar import Slots
    from models.llm.grammar.summary import SECTIONS, band

    return Slots.of(facts).all(), SECTIONS, band(facts.score)


def xgrammar_ebnf(facts) -> str:
    """The grammar in xgrammar's EBNF (no negation: no ban list)."""
    slots, sections, conf = _parts(facts)
    alts = " | ".join(json.dumps(v) for v in slots)
    spaced = " | ".join(json.dumps(" " + v) for v in slots)
    spaced += " | " + " | ".join(json.dumps(" (" + v) for v in slots)
    body = []
    for i, (label, most) in enumerate(sections):
        lead = "" if i == 0 else "\\n"
        sent = 'sent (" " sent)?' if most == 2 else "sent"
        if label == "Confidence":
            sent = f'"{conf}" item* "."'
        body.append(f'"{lead}{label}: " {sent}')
    return "\n".join(
        [
            "root ::= " + " ".join(body),
            'sent ::= first item item item item* "."',
            "first ::= [A-Z] [a-z]* | slot",
            "item ::= word | spaced | [,;:)]",
            "slot ::= " + alts,
            "spaced ::= " + spaced,
            'word ::= " " "("? [a-z] [a-z\'-]*',
        ]
    )


def outlines_regex(facts) -> str:
    """The grammar as one regex for outlines-core (no negation: no ban list)."""
    slots, sections, conf = _parts(facts)
    alt = "|".join(re.escape(v) for v in slots)
    item = rf"(?: \(?[a-z][a-z'\-]*| \(?(?:{alt})|[,;:)])"
    sent = rf"(?:[A-Z][a-z]*|(?:{alt})){item}{{3,}}\."
    out = []
    for i, (label, most) in enumerate(sections):
        lead = "" if i == 0 else "\n"
        body = rf"{sent}(?: {sent})?" if most == 2 else sent
        if label == "Confidence":
            body = rf"{conf}{item}*\."
        out.append(re.escape(lead + label + ": ") + body)
    return "".join(out)


def _replay(fill, advance, ids: list[int]) -> list[float]:
    times = []
    for t in ids:
        t0 = time.perf_counter()
        fill()
        times.append(time.perf_counter() - t0)
        advance(t)
    return times


def bench_llguidance(tok, facts_list) -> dict:
    from models.llm.grammar import GrammarTokenizer, summary_grammar

    gt = GrammarTokenizer.from_hf(tok, len(tok), [tok.eos_token_id])
    mask = gt.bitmask(1)
    compile_ms, times = [], []
    for f in facts_list:
        g = summary_grammar(f)
        t0 = time.perf_counter()
        c = gt.constraint(g)
        compile_ms.append((time.perf_counter() - t0) * 1000)
        ids = tok.encode(answer(f), add_special_tokens=False)
        times += _replay(lambda c=c: c.fill(mask, 0), lambda t, c=c: c.advance(t), ids)
        assert c.accepting, "replayed answer not accepted"
    return _row("llguidance (Lark, with the ban list)", compile_ms, times, "yes")


def bench_xgrammar(tok, facts_list) -> dict:
    import xgrammar as xgr

    info = xgr.TokenizerInfo.from_huggingface(tok, vocab_size=len(tok))
    compiler = xgr.GrammarCompiler(info, max_threads=1)
    mask = xgr.allocate_token_bitmask(1, info.vocab_size)
    compile_ms, times = [], []
    for f in facts_list:
        t0 = time.perf_counter()
        compiled = compiler.compile_grammar(xgrammar_ebnf(f))
        m = xgr.GrammarMatcher(compiled)
        compile_ms.append((time.perf_counter() - t0) * 1000)
        ids = tok.encode(answer(f), add_special_tokens=False)
        times += _replay(
            lambda m=m: m.fill_next_token_bitmask(mask), lambda t, m=m: m.accept_token(t), ids
        )
    return _row("xgrammar (EBNF, no ban list)", compile_ms, times, "no")


def bench_outlines(tok, facts_list) -> dict:
    from outlines_core import Guide, Index, Vocabulary

    vocab: dict[str, list[int]] = {}
    eos = tok.eos_token_id
    for token, tid in tok.get_vocab().items():
        if tid == eos:
            continue
        vocab.setdefault(tok.convert_tokens_to_string([token]), []).append(tid)
    vocabulary = Vocabulary(eos, vocab)
    compile_ms, times = [], []
    for f in facts_list:
        t0 = time.perf_counter()
        index = Index(outlines_regex(f), vocabulary)
        guide = Guide(index)
        compile_ms.append((time.perf_counter() - t0) * 1000)
        ids = tok.encode(answer(f), add_special_tokens=False)
        times += _replay(
            lambda g=guide: g.get_tokens(),
            lambda t, g=guide: g.advance(t, return_tokens=False),
            ids,
        )
    return _row("outlines-core (regex, no ban list)", compile_ms, times, "no")


def _row(name: str, compile_ms: list[float], times: list[float], negation: str) -> dict:
    us = [t * 1e6 for t in times]
    return {
        "library": name,
        "compile ms / alert (mean)": statistics.fmean(compile_ms),
        "compile ms (max)": max(compile_ms),
        "mask us / token (mean)": statistics.fmean(us),
        "mask us (p50)": percentile(us, 0.5),
        "mask us (p95)": percentile(us, 0.95),
        "per alert ms (compile + 150 masks at p50)": statistics.fmean(compile_ms)
        + 150 * percentile(us, 0.5) / 1000,
        "tokens replayed": len(us),
        "negation (ban list)": negation,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--alerts", type=int, default=10)
    ap.add_argument("--tok-dir", default=None, help="tokenizer folder (default: from the GGUF)")
    ap.add_argument("--libs", default="llguidance,xgrammar,outlines")
    args = ap.parse_args()

    from benchmarks.support.sample_facts import simulated_facts

    if args.tok_dir:
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(args.tok_dir, local_files_only=True)
    else:
        from models.llm.engines.loader import load_tokenizer, resolve_source

        tok = load_tokenizer(resolve_source(None))
    facts = simulated_facts(args.alerts, seed=3)
    benches = {"llguidance": bench_llguidance, "xgrammar": bench_xgrammar}
    benches["outlines"] = bench_outlines
    rows = []
    for lib in args.libs.split(","):
        try:
            rows.append(benches[lib](tok, facts))
        except Exception as exc:  # report, keep the other rows
            rows.append({"library": lib, "negation (ban list)": f"failed: {exc!r}"[:120]})
        print(rows[-1], flush=True)
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else []
    print(
        f"\nmachine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, load "
        f"{' '.join(load)}; {datetime.now(UTC):%Y-%m-%d %H:%M UTC}; vocabulary {len(tok)}\n"
    )
    cols = list(rows[0].keys()) if "compile ms / alert (mean)" in rows[0] else list(rows[-1])
    print(table(rows, cols))


if __name__ == "__main__":
    main()
