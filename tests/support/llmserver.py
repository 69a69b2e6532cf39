"""A small OpenAI-compatible ``/chat/completions`` server on loopback, for tests.

It answers each POST with the next scripted reply and records what it was sent:

    with LLMServer() as server:
        server.reply_content('{"bullets": [...], ...}')
        server.reply(status=500)
        server.reply_content("{}", delay=2.0)   # slower than the client's timeout
        ... LLMSummarizer(base_url=server.base_url, ...) ...
        server.requests[0].headers["Authorization"]
        server.translate_with(FRENCH)           # answer translation prompts by a word table
"""

from __future__ import annotations

import json
import re
import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    delay: float = 0.0


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict


def completion(content: str, model: str = "test-model") -> bytes:
    """An OpenAI-shaped chat completion whose single choice says ``content``."""
    return json.dumps(
        {
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
        }
    ).encode()


TRANSLATION_PROMPT = "You translate news briefs"
"""How a translation request opens its system message (aggregator/briefs/translate.py)."""


def word_translation(text: str, words: dict[str, str]) -> str:
    """``text`` with each word the table has replaced (a capital kept): a deterministic stand-in
    for a model's translation that keeps names and numbers as they are."""

    def one(match: re.Match[str]) -> str:
        word = match.group()
        new = words.get(word.casefold())
        if new is None:
            return word
        return new[:1].upper() + new[1:] if word[:1].isupper() else new

    return re.sub(r"[^\W\d_]+(?:'[^\W\d_]+)?", one, text)


def translated_reply(request_body: dict, words: dict[str, str]) -> str | None:
    """The reply to a translation request: the brief it carries, every string translated by
    ``words``; None for any other request."""
    messages = request_body.get("messages") or [{}]
    if not str(messages[0].get("content", "")).startswith(TRANSLATION_PROMPT):
        return None
    user = str(messages[-1].get("content", ""))
    brief = json.loads(user[user.index("{") :])

    def walk(value: object) -> object:
        if isinstance(value, str):
            return word_translation(value, words)
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        return value

    return json.dumps(walk(brief), ensure_ascii=False)


class LLMServer:
    """Serves scripted replies on 127.0.0.1 at an ephemeral port; use as a context manager."""

    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.requests: list[Recorded] = []
        self.translation_words: dict[str, str] | None = None
        self._stopping = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def reply(self, status: int = 200, body: bytes = b"", delay: float = 0.0) -> None:
        self.replies.append(Reply(status, body, delay))

    def reply_content(self, content: str, delay: float = 0.0) -> None:
        """Answer the next call with a well-formed completion carrying ``content``."""
        self.reply(200, completion(content), delay)

    def translate_with(self, words: dict[str, str]) -> None:
        """Answer every translation request (when no scripted reply is queued) with the brief
        it carries translated word by word by ``words`` (lower-case keys)."""
        self.translation_words = words

    def __enter__(self) -> LLMServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {}
                server.requests.append(Recorded(self.path, dict(self.headers), body))
                if self.path.rstrip("/") != "/v1/chat/completions":
                    reply = Reply(404, b'{"error": "not found"}')
                elif server.replies:
                    reply = server.replies.popleft()
                elif server.translation_words is not None and (
                    content := translated_reply(body, server.translation_words)
                ):
                    reply = Reply(200, completion(content))
                else:
                    reply = Reply(503, b'{"error": "no scripted reply"}')
                if reply.delay and server._stopping.wait(reply.delay):
                    return
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except OSError:
                    pass  # the client gave up (timed out) before the reply

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler
