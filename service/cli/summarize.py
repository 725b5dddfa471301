"""``hopwatch summarize``: grounded LLM summaries of alert facts, or the verifier alone.

``--facts F.json`` summarizes; ``--facts F.json --verify TEXT_FILE`` checks any text
(from hopwatch or from an external LLM) against the facts and prints
``{"grounded": bool, "violations": [{"span", "kind", "reason"}]}`` last; the exit status
is 1 when the text is not grounded.
"""

from __future__ import annotations

from pathlib import Path

import typer


def _load_facts(facts: Path) -> tuple[list, bool]:
    import json

    from pydantic import TypeAdapter, ValidationError

    from models.llm.facts import AlertFacts

    try:
        raw = json.loads(facts.read_text(encoding="utf-8"))
        many = isinstance(raw, list)
        items = TypeAdapter(list[AlertFacts]).validate_python(raw if many else [raw])
    except (ValueError, ValidationError) as exc:
        raise typer.BadParameter(f"{facts}: {exc}", param_hint="--facts") from exc
    if not items:
        raise typer.BadParameter(f"{facts}: no alert facts", param_hint="--facts")
    return items, many


def _verify(facts: Path, text_file: Path, as_json: bool) -> None:
    import json

    from models.llm.verify import Verifier

    items, many = _load_facts(facts)
    if many and len(items) != 1:
        raise typer.BadParameter(
            f"{facts}: --verify checks one text against one alert's facts", param_hint="--facts"
        )
    text = text_file.read_text(encoding="utf-8")
    result = Verifier(items[0]).verify(text)
    if not as_json:
        verdict = "grounded" if result.grounded else "NOT grounded"
        typer.echo(f"[{items[0].alert_id}] {verdict}: {len(result.violations)} violation(s)")
        for v in result.violations:
            typer.echo(f"  {v.kind}: {v.span!r} -- {v.reason}")
    typer.echo(json.dumps(result.to_dict()))
    if not result.grounded:
        raise typer.Exit(code=1)


def summarize(
    facts: Path = typer.Option(
        ..., "--facts", exists=True, dir_okay=False, help="JSON file: one AlertFacts or a list"
    ),
    verify: Path | None = typer.Option(
        None,
        "--verify",
        exists=True,
        dir_okay=False,
        help="check this text file against the facts instead of summarizing",
    ),
    engine: str = typer.Option("auto", help="auto | llamacpp | transformers | openai"),
    model_path: str | None = typer.Option(
        None, help="local HF folder or .gguf file (default: the bundled SmolLM2 GGUF)"
    ),
    quantization: str = typer.Option("auto", help="transformers: auto | none | int8 | int4"),
    device: str = typer.Option("auto", help="auto | cpu | cuda[:N]"),
    batching: str = typer.Option("auto", help="transformers: auto | static | sequential | ..."),
    max_new_tokens: int = typer.Option(224, min=1, help="token budget per summary"),
    threads: int | None = typer.Option(None, min=1, help="llama.cpp CPU threads"),
    timeout: float = typer.Option(600.0, min=1, help="seconds per summary, waiting included"),
    openai_base_url: str = typer.Option(
        "http://127.0.0.1:8000/v1", help="OpenAI-compatible server (engine openai)"
    ),
    openai_model: str = typer.Option("SmolLM2-135M-Instruct", help="model name for that server"),
    as_json: bool = typer.Option(False, "--json", help="print only the JSON result line"),
) -> None:
    """Summarize alert facts, or verify a text against them (``--verify``).

    The last stdout line is the JSON result (a list for a list of facts).
    """
    import asyncio
    import json

    from models.llm.config import LLMConfig
    from models.llm.summarizer import Summarizer

    if verify is not None:
        _verify(facts, verify, as_json)
        return
    items, many = _load_facts(facts)
    try:
        config = LLMConfig(
            engine=engine,  # type: ignore[arg-type]
            model_path=model_path,
            quantization=quantization,  # type: ignore[arg-type]
            device=device,
            batching=batching,  # type: ignore[arg-type]
            max_new_tokens=max_new_tokens,
            batch_size=max(1, min(len(items), 64)),
            queue_size=max(len(items), 1),
            timeout_s=timeout,
            threads=threads,
            openai_base_url=openai_base_url,
            openai_model=openai_model,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc

    async def run() -> list:
        async with Summarizer(config) as summarizer:
            return await summarizer.summarize_many(items)

    results = asyncio.run(run())
    if not as_json:
        for f, r in zip(items, results, strict=True):
            typer.echo(f"[{f.alert_id}] ({r.source}) {r.text}")
    payload = [r.model_dump() for r in results] if many else results[0].model_dump()
    typer.echo(json.dumps(payload, default=str))
