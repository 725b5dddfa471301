"""`OpenAIEngine`: an external OpenAI-compatible server (vLLM, llama.cpp server).

The server does its own batching and KV caching; this engine sends one
``POST {base_url}/chat/completions`` per request with greedy decoding and the summary's
grammar (vLLM's ``guided_grammar`` with the ``guidance`` backend, which reads
llguidance's Lark dialect), and reads ``choices[0].message.content`` and ``usage``. A
server that ignores the grammar still has its answer checked by the verifier.
"""

from __future__ import annotations

from typing import Any

from models.llm.config import LLMConfig
from models.llm.engines.base import Decoding, GenerationOutput, GenerationRequest
from models.llm.errors import EngineError, SummarizerClosed


class OpenAIEngine:
    """Chat completions over HTTP.

    Args:
        config: uses ``openai_base_url``, ``openai_api_key``, ``openai_model``,
            ``timeout_s`` and ``batch_size`` (connection pool size).
        transport: an ``httpx`` transport (tests may pass an ASGI transport).
    """

    def __init__(self, config: LLMConfig, transport: Any = None) -> None:
        self.config = config
        self.model_name = config.openai_model
        self.quantization = "server"
        self._transport = transport
        self._client: Any = None

    async def start(self) -> None:
        """Open the HTTP client; idempotent."""
        import httpx

        if self._client is not None:
            return
        headers = {"Content-Type": "application/json"}
        if self.config.openai_api_key:
            headers["Authorization"] = f"Bearer {self.config.openai_api_key}"
        limits = httpx.Limits(max_connections=max(self.config.batch_size, 1))
        self._client = httpx.AsyncClient(
            base_url=self.config.openai_base_url.rstrip("/") + "/",
            headers=headers,
            timeout=self.config.timeout_s,
            limits=limits,
            transport=self._transport,
        )

    async def aclose(self) -> None:
        """Close the HTTP client."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def generate(self, request: GenerationRequest) -> GenerationOutput:
        """One chat completion."""
        import httpx

        if self._client is None:
            raise SummarizerClosed("engine not started")
        body: dict[str, Any] = {
            "model": self.config.openai_model,
            "messages": request.messages,
            "max_tokens": request.decoding.max_new_tokens,
            "temperature": 0.0,
        }
        if request.grammar:  # vLLM: structured outputs with llguidance's Lark dialect
            body["guided_grammar"] = request.grammar
            body["guided_decoding_backend"] = "guidance"
        if request.decoding.strict:
            body["frequency_penalty"] = Decoding.STRICT_REPETITION_PENALTY - 1.0
        try:
            resp = await self._client.post("chat/completions", json=body)
        except httpx.HTTPError as exc:
            where = self.config.openai_base_url
            raise EngineError(f"{where}: {type(exc).__name__}: {exc}") from exc
        if resp.status_code != 200:
            raise EngineError(
                f"{self.config.openai_base_url}/chat/completions answered {resp.status_code}: "
                f"{resp.text[:200]!r}"
            )
        try:
            data = resp.json()
            choice = data["choices"][0]
            text = choice["message"]["content"] or ""
            usage = data.get("usage") or {}
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise EngineError(f"unexpected chat/completions response: {resp.text[:200]!r}") from exc
        return GenerationOutput(
            text=str(text),
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            truncated=choice.get("finish_reason") == "length",
            cached_prompt_tokens=int(
                (usage.get("prompt_tokens_details") or {}).get("cached_tokens", 0) or 0
            ),
        )
