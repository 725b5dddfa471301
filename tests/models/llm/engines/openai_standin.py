"""A local stand-in for an OpenAI-compatible server (``POST /v1/chat/completions``).

It runs ``http.server`` in a thread on 127.0.0.1 and answers with whatever its
``answer`` function returns for the request body, in the OpenAI response format
(``choices[0].message.content``, ``finish_reason``, ``usage``). It records the
requests it got. Used by the OpenAI-engine and CLI tests; no network.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = Callable[[dict[str, Any]], str | tuple[int, str]]


class OpenAIStandIn:
    """Context manager serving ``/v1/chat/completions`` on a free local port.

    Args:
        answer: maps the request body to the completion text, or to ``(status, body)``
            for an error reply.
    """

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.requests: list[dict[str, Any]] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``."""
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> OpenAIStandIn:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                length = int(self.headers.get("Content-Length", "0"))
                try:
                    body = json.loads(self.rfile.read(length))
                    messages = body["messages"]
                    assert all({"role", "content"} <= set(m) for m in messages)
                except (ValueError, KeyError, AssertionError, TypeError):
                    self._send(400, {"error": {"message": "bad request"}})
                    return
                standin.requests.append(body)
                reply = standin.answer(body)
                if isinstance(reply, tuple):
                    self._send(reply[0], {"error": {"message": reply[1]}})
                    return
                prompt_tokens = sum(len(m["content"].split()) for m in messages)
                completion_tokens = len(reply.split())
                limit = int(body.get("max_tokens") or 1 << 30)
                self._send(
                    200,
                    {
                        "id": f"chatcmpl-{len(standin.requests)}",
                        "object": "chat.completion",
                        "model": body.get("model", "stand-in"),
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": reply},
                                "finish_reason": "length" if completion_tokens >= limit else "stop",
                            }
                        ],
                        "usage": {
                            "prompt_tokens": prompt_tokens,
                            "completion_tokens": completion_tokens,
                            "total_tokens": prompt_tokens + completion_tokens,
                        },
                    },
                )

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
