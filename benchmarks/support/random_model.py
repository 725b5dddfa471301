"""Randomly initialised models of a given architecture, for tests and benchmarks.

Decode throughput does not depend on weight values, so the GPU benchmark runs a
randomly initialised model with SmolLM2-135M's exact configuration
(:data:`SMOLLM2_135M`, copied from the bundled GGUF's metadata), and the scheduling
tests run a tiny one with a tiny byte-level tokenizer built here -- no hub access.
"""

from __future__ import annotations

from typing import Any

#: LlamaConfig of SmolLM2-135M-Instruct as read from the bundled GGUF.
SMOLLM2_135M: dict[str, Any] = {
    "vocab_size": 49152,
    "hidden_size": 576,
    "intermediate_size": 1536,
    "num_hidden_layers": 30,
    "num_attention_heads": 9,
    "num_key_value_heads": 3,
    "head_dim": 64,
    "max_position_embeddings": 8192,
    "rms_norm_eps": 1e-5,
    "rope_theta": 100000.0,
    "tie_word_embeddings": True,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "pad_token_id": 2,
}

#: A tiny Llama for scheduling tests (a few layers, hidden 64).
TINY_LLAMA: dict[str, Any] = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 2048,
    "tie_word_embeddings": True,
}

#: ChatML template (SmolLM2's) for the tiny tokenizer.
CHATML_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + "
    "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def tiny_tokenizer(vocab_size: int = 512, corpus: list[str] | None = None) -> Any:
    """A byte-level BPE tokenizer trained in milliseconds, with ChatML specials.

    Token ids: 0 ``<|endoftext|>`` (pad), 1 ``<|im_start|>``, 2 ``<|im_end|>`` (eos).
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=_SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    text = corpus or [
        "User alice moved from host WS01 to host SRV02 at 10:00 UTC.",
        "The alert was flagged by rules and ATT&CK technique T1021.002 with score 0.97.",
        "<alert-data> user source host destination hosts first seen last seen </alert-data>",
    ]
    tok.train_from_iterator(text * 4, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        padding_side="left",
    )
    fast.chat_template = CHATML_TEMPLATE
    return fast


def random_llama(
    config: dict[str, Any] | None = None,
    vocab_size: int | None = None,
    seed: int = 0,
    dtype: Any = None,
    device: str = "cpu",
) -> Any:
    """A randomly initialised ``LlamaForCausalLM`` (eval mode).

    Args:
        config: LlamaConfig fields (default :data:`TINY_LLAMA`).
        vocab_size: overrides ``config['vocab_size']`` (match the tokenizer).
        seed: torch seed for the initial weights.
        dtype: torch dtype (default float32).
        device: where to put it.
    """
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    fields = dict(TINY_LLAMA if config is None else config)
    if vocab_size is not None:
        fields["vocab_size"] = vocab_size
    fields.setdefault("bos_token_id", 1)
    fields.setdefault("eos_token_id", 2)
    fields.setdefault("pad_token_id", 0)
    rope_theta = fields.pop("rope_theta", None)
    cfg = LlamaConfig(**fields)
    if rope_theta is not None:
        if isinstance(getattr(cfg, "rope_parameters", None), dict):
            cfg.rope_parameters["rope_theta"] = rope_theta
        else:
            cfg.rope_theta = rope_theta
    torch.manual_seed(seed)
    model = LlamaForCausalLM(cfg).to(dtype=dtype or torch.float32, device=device).eval()
    model.generation_config = GenerationConfig(
        bos_token_id=cfg.bos_token_id, eos_token_id=cfg.eos_token_id, pad_token_id=cfg.pad_token_id
    )
    return model
