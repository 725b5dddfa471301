"""The OpenAI-compatible engine and the CLI against the local stand-in server."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from models.llm.config import LLMConfig
from models.llm.engines.openai_server import OpenAIEngine
from models.llm.errors import EngineError
from models.llm.summarizer import Summarizer
from service.cli import build_app
from tests.models.llm.engines.openai_standin import OpenAIStandIn
from tests.models.llm.test_prompt import make_facts

pytestmark = pytest.mark.asyncio


def grounded_answer(body: dict) -> str:
    """Answer from the fenced data in the four labelled parts, as a good model would."""
    data = body["messages"][-1]["content"]
    user = re.search(r'user: "?([^"\n]+)"?\n', data).group(1)
    path = re.search(r"path in hop order: ([^\n]+)\n", data).group(1).split(" -> ")
    score = re.search(r"score: ([\d.]+)", data).group(1)
    return (
        f"What happened: {user} moved from {path[0]} to {path[1]}.\n"
        f"Why flagged: The score is {score} because this host pair was never seen before.\n"
        f"Check next: Review the logons on {path[1]}.\n"
        f"Confidence: High, with a score of {score}."
    )


def _config(url: str, **kw) -> LLMConfig:
    return LLMConfig(engine="openai", openai_base_url=url, openai_model="stand-in", **kw)


async def test_openai_engine_grounded_answer() -> None:
    with OpenAIStandIn(grounded_answer) as server:
        async with Summarizer(_config(server.base_url, openai_api_key="k")) as s:
            result = await s.summarize(make_facts())
    assert result.source == "llm" and result.grounded and result.attempts == 1
    assert result.model == "stand-in" and result.completion_tokens > 0
    assert "alice@corp.local" in result.text
    body = server.requests[0]
    assert body["model"] == "stand-in" and body["temperature"] == 0.0
    assert body["messages"][0]["role"] == "system"
    # the summary's grammar goes to the server (vLLM reads it with llguidance)
    assert body["guided_grammar"].startswith("start:") and "WS01" in body["guided_grammar"]


async def test_ungrounded_answer_is_retried_then_replaced() -> None:
    answers = iter(["Host EVIL99 did it.", "User mallory moved from X1 to Y2."])
    with OpenAIStandIn(lambda body: next(answers)) as server:
        async with Summarizer(_config(server.base_url)) as s:
            result = await s.summarize(make_facts())
    assert result.source == "template" and result.grounded and result.attempts == 2
    assert "EVIL99" not in result.text and "mallory" not in result.text
    # the retry is strict and names the broken rules without echoing the model's text
    retry = server.requests[1]
    assert retry["frequency_penalty"] > 0
    hint = retry["messages"][-1]["content"].split("</alert-data>")[1]
    assert "rejected" in hint and "EVIL99" not in hint and "about host" in hint
    # and its grammar also bans the rejected words
    assert "evil" in retry["guided_grammar"] and "evil" not in server.requests[0]["guided_grammar"]


async def test_retry_can_succeed() -> None:
    answers = iter(["The user moved somewhere.", None])

    def answer(body: dict) -> str:
        nxt = next(answers)
        return grounded_answer(body) if nxt is None else nxt

    with OpenAIStandIn(answer) as server:
        async with Summarizer(_config(server.base_url)) as s:
            result = await s.summarize(make_facts())
    assert result.source == "llm" and result.attempts == 2 and len(result.rejected) == 1


async def test_server_error_falls_back_or_raises() -> None:
    with OpenAIStandIn(lambda body: (500, "boom")) as server:
        async with Summarizer(_config(server.base_url)) as s:
            result = await s.summarize(make_facts())
        assert result.source == "template" and "500" in result.rejected[0]
        engine = OpenAIEngine(_config(server.base_url))
        async with Summarizer(engine.config, engine=engine, fallback_on_engine_error=False) as s:
            with pytest.raises(EngineError, match="500"):
                await s.summarize(make_facts())


def test_cli_summarize_list_with_openai_engine(tmp_path) -> None:
    facts = [
        make_facts(alert_id="c1").model_dump(mode="json"),
        make_facts(alert_id="c2", user="bob@corp.local").model_dump(mode="json"),
    ]
    path = tmp_path / "facts.json"
    path.write_text(json.dumps(facts))
    with OpenAIStandIn(grounded_answer) as server:
        res = CliRunner().invoke(
            build_app(),
            [
                "summarize",
                "--facts",
                str(path),
                "--engine",
                "openai",
                "--openai-base-url",
                server.base_url,
                "--json",
            ],
        )
    assert res.exit_code == 0, res.output
    out = json.loads(res.output.strip().splitlines()[-1])
    assert [r["source"] for r in out] == ["llm", "llm"]
    assert "bob@corp.local" in out[1]["text"] and "alice" in out[0]["text"]


def test_cli_rejects_bad_facts(tmp_path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"alert_id": "x"}))
    res = CliRunner().invoke(build_app(), ["summarize", "--facts", str(path), "--engine", "openai"])
    assert res.exit_code != 0 and "bad.json" in res.output


def test_cli_verify_prints_violations_last(tmp_path) -> None:
    facts = tmp_path / "facts.json"
    facts.write_text(make_facts().model_dump_json())
    bad = tmp_path / "bad.txt"
    bad.write_text("alice dumped LSASS on SRV02 yesterday and reached DC07. It is benign.")
    res = CliRunner().invoke(
        build_app(), ["summarize", "--facts", str(facts), "--verify", str(bad), "--json"]
    )
    assert res.exit_code == 1, res.output
    out = json.loads(res.output.strip().splitlines()[-1])
    assert out["grounded"] is False
    kinds = {(v["span"], v["kind"]) for v in out["violations"]}
    assert {("dumped", "action"), ("yesterday", "time"), ("DC07", "host")} <= kinds
    assert ("benign", "verdict") in kinds and all(v["reason"] for v in out["violations"])
    good = tmp_path / "good.txt"
    good.write_text("alice@corp.local moved from WS01 to SRV02 at 10:00 UTC (score 0.97).")
    res = CliRunner().invoke(
        build_app(), ["summarize", "--facts", str(facts), "--verify", str(good)]
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.output.strip().splitlines()[-1]) == {"grounded": True, "violations": []}
    assert "grounded: 0 violation(s)" in res.output
