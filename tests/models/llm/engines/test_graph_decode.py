"""GraphDecoder (static KV cache, hand-run Llama forward) against ``model.generate``.

On CPU the decode step runs eagerly; on CUDA the same step is captured as a CUDA graph
(the GPU benchmark covers that). Greedy tokens must equal transformers' own greedy
generation, per row, for ragged left-padded batches, with and without repetition
penalty, and rows must stop at end of text.
"""

from __future__ import annotations

import pytest

from benchmarks.support.random_model import random_llama
from models.llm.engines.hf.graph_decode import GraphDecoder


@pytest.fixture(scope="module")
def model():
    import torch

    torch.set_num_threads(1)
    return random_llama(vocab_size=300, seed=3)


def _reference(model, prompt: list[int], new: int, eos: list[int], penalty: float) -> list[int]:
    import torch

    x = torch.tensor([prompt])
    out = model.generate(
        input_ids=x,
        attention_mask=torch.ones_like(x),
        max_new_tokens=new,
        do_sample=False,
        eos_token_id=eos,
        pad_token_id=0,
        repetition_penalty=penalty,
    )
    return out[0, len(prompt) :].tolist()


def _prompts() -> list[list[int]]:
    import random

    rng = random.Random(5)
    return [[rng.randrange(3, 300) for _ in range(n)] for n in (7, 19, 3, 12)]


@pytest.mark.parametrize("penalty", [1.0, 3.0])
def test_tokens_match_generate_on_a_ragged_batch(model, penalty: float) -> None:
    eos = [299]  # random weights: effectively never chosen, so rows run to the limit
    dec = GraphDecoder(model, eos_ids=eos, pad_id=0)
    prompts = _prompts()
    got = dec.generate(prompts, 10, repetition_penalty=penalty)
    want = [_reference(model, p, 10, eos, penalty) for p in prompts]
    assert got == want
    assert all(len(r) == 10 for r in got)


def test_rows_stop_at_end_of_text_and_buffers_are_reused(model) -> None:
    prompts = _prompts()
    pen = 3.0  # random weights repeat one token; the penalty makes rows vary
    free = GraphDecoder(model, eos_ids=[299], pad_id=0).generate(prompts, 12, pen)
    # make a later token of row 0 (one it has not produced before) an end-of-text id
    row = free[0]
    at = next(i for i in range(2, len(row)) if row[i] not in row[:i])
    stop = row[at]
    dec = GraphDecoder(model, eos_ids=[stop], pad_id=0)
    got = dec.generate(prompts, 12, pen)
    want = [_reference(model, p, 12, [stop], pen) for p in prompts]
    assert got == want
    assert got[0] == row[: at + 1]
    # same shape again: the static buffers are reset, results unchanged
    assert dec.generate(prompts, 12, pen) == got
    assert len(dec._states) == 1
    # a different batch through the same decoder
    assert dec.generate(prompts[:2], 12, pen) == want[:2]


def test_unfused_path_for_quantized_linears_gives_the_same_tokens(model) -> None:
    prompts = _prompts()
    fused = GraphDecoder(model, eos_ids=[299], pad_id=0)
    plain = GraphDecoder(model, eos_ids=[299], pad_id=0)
    plain._fused = [(None, None)] * len(plain._fused)  # what torchao-quantized linears get
    plain._fast_norm = False
    assert all(f[0] is not None for f in fused._fused)
    assert plain.generate(prompts, 8, 3.0) == fused.generate(prompts, 8, 3.0)


def test_unsupported_architecture_is_refused() -> None:
    class NotLlama:
        config = type("C", (), {"model_type": "gpt2"})()

    assert not GraphDecoder.supports(NotLlama())
    with pytest.raises(ValueError, match="supports"):
        GraphDecoder(NotLlama(), eos_ids=[0], pad_id=0)


def test_constrained_rows_follow_their_grammar_and_match_generate() -> None:
    import torch

    from benchmarks.support.random_model import tiny_tokenizer
    from models.llm.engines.hf.runner import GrammarLogits
    from models.llm.grammar import BatchMasks, GrammarTokenizer

    torch.set_num_threads(1)
    tok = tiny_tokenizer()
    model = random_llama(vocab_size=len(tok), seed=4)
    eos = [tok.eos_token_id]
    gt = GrammarTokenizer.from_hf(tok, len(tok), eos)
    grammars = [
        'start: "User " ("alice" | "bob") " moved to " ("WS01" | "SRV02") "."',
        'start: "Host " ("WS01" | "SRV02") " at 10:00 UTC."',
        None,  # an unconstrained row in the same batch
    ]
    prompts = [tok.encode(t) for t in ("host WS01 to", "alert data", "user alice moved")]

    def constraints():
        return [gt.constraint(g) if g else None for g in grammars]

    dec = GraphDecoder(model, eos_ids=eos, pad_id=0)
    got = dec.generate(prompts, 16, constraints=constraints(), masks=BatchMasks(gt))
    for row, grammar in zip(got, grammars, strict=True):
        if grammar is None:
            continue
        text = tok.decode([t for t in row if t not in eos])
        check = gt.constraint(grammar)
        assert all(check.advance(t) for t in tok.encode(text)) and check.accepting, text
        assert row[-1] in eos  # the grammar ended the row
    # transformers' generate with the same grammars as a logits processor
    for i, prompt in enumerate(prompts):
        x = torch.tensor([prompt])
        c = constraints()[i]
        out = model.generate(
            input_ids=x,
            attention_mask=torch.ones_like(x),
            max_new_tokens=16,
            do_sample=False,
            eos_token_id=eos,
            pad_token_id=0,
            logits_processor=[GrammarLogits([c], BatchMasks(gt))] if c else None,
        )
        assert out[0, len(prompt) :].tolist()[: len(got[i])] == got[i]


def test_quantized_decoder_runs_low_bit_fused_projections(model) -> None:
    import torch

    dec = GraphDecoder(model, eos_ids=[299], pad_id=0, quantization="int8")
    qkv, gate_up = dec._fused[0]
    o_proj, down = dec._out[0]
    for lin in (qkv, gate_up, o_proj, down):
        assert lin.weight.dtype == torch.int8  # torch's int8 weight-only kernel
    attn = model.model.layers[0].self_attn
    rows = sum(p.weight.shape[0] for p in (attn.q_proj, attn.k_proj, attn.v_proj))
    assert qkv.weight.shape[0] == rows  # q, k and v fused into one quantized matmul
    prompts = _prompts()
    got = dec.generate(prompts, 8)
    full = GraphDecoder(model, eos_ids=[299], pad_id=0).generate(prompts, 8)
    assert all(len(r) == 8 for r in got)
    # int8 weights change few greedy choices on this model
    same = sum(
        a == b for ra, rb in zip(got, full, strict=True) for a, b in zip(ra, rb, strict=True)
    )
    assert same >= 0.5 * sum(len(r) for r in full)
