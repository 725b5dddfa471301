"""``hopwatch summarize``: grounded LLM summaries of alert facts from a JSON file."""

from __future__ import annotations

from pathlib import Path

import typer


def summarize(
    facts: Path = typer.Option(
        ..., "--facts", exists=True, dir_okay=False, help="JSON file: one AlertFacts or a list"
    ),
    engine: str = typer.Option("transformers", help="transformers | openai"),
    model_path: str | None = typer.Option(
        None, help="local HF folder or .gguf file (default: the bundled SmolLM2 GGUF)"
    ),
    quantization: str = typer.Option("auto", help="auto | none | int8 | int4"),
    device: str = typer.Option("auto", help="auto | cpu | cuda[:N]"),
    batching: str = typer.Option("auto", help="auto | continuous | static | sequential"),
    max_new_tokens: int = typer.Option(96, min=1, help="token budget per summary"),
    timeout: float = typer.Option(600.0, min=1, help="seconds per summary, waiting included"),
    openai_base_url: str = typer.Option(
        "http://127.0.0.1:8000/v1", help="OpenAI-compatible server (engine openai)"
    ),
    openai_model: str = typer.Option("SmolLM2-135M-Instruct", help="model name for that server"),
    as_json: bool = typer.Option(False, "--json", help="print only the JSON result line"),
) -> None:
    """Summarize alert facts; the last stdout line is the JSON result (a list for a list)."""
    import asyncio
    import json

    from pydantic import TypeAdapter, ValidationError

    from models.llm.config import LLMConfig
    from models.llm.facts import AlertFacts
    from models.llm.summarizer import Summarizer

    try:
        raw = json.loads(facts.read_text(encoding="utf-8"))
        many = isinstance(raw, list)
        items = TypeAdapter(list[AlertFacts]).validate_python(raw if many else [raw])
    except (ValueError, ValidationError) as exc:
        raise typer.BadParameter(f"{facts}: {exc}", param_hint="--facts") from exc
    if not items:
        raise typer.BadParameter(f"{facts}: no alert facts", param_hint="--facts")
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
