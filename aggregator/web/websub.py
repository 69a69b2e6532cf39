"""The WebSub callback: ``GET /websub/<token>`` answers a hub's verification of intent,
``POST /websub/<token>`` receives pushed content (checked and stored by ingest/push.py).

Any web replica may take a push: it is stored in the shared database, and a thin ping's poll
is claimed like any other.
"""

from __future__ import annotations

import logging

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from aggregator.app import App
from aggregator.ingest.poll import Poller
from aggregator.ingest.push import receive
from aggregator.ingest.websub import CALLBACK_PREFIX, verify_intent

log = logging.getLogger("aggregator.websub")


class _TooLarge(Exception):
    pass


async def _body(request: Request, cap: int) -> bytes:
    """The request body, refused past ``cap`` bytes (declared or streamed)."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > cap:
        raise _TooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def websub_routes(app: App) -> list[Route]:
    """The callback routes of the web app."""

    async def verify(request: Request) -> Response:
        params = {k: v for k, v in request.query_params.items() if k.startswith("hub.")}
        token = request.path_params["token"]
        challenge = await run_in_threadpool(verify_intent, app.db, app.settings, token, params)
        if challenge is None:
            return PlainTextResponse("no such subscription request", status_code=404)
        return PlainTextResponse(challenge)

    async def deliver(request: Request) -> Response:
        cap = app.settings.fetch.max_body_bytes
        try:
            body = await _body(request, cap)
        except _TooLarge:
            return PlainTextResponse(f"body over the {cap}-byte limit", status_code=413)
        answer = await run_in_threadpool(
            receive,
            app.db,
            app.settings,
            request.path_params["token"],
            body,
            signature=request.headers.get("x-hub-signature"),
            content_type=(request.headers.get("content-type") or "")[:200] or None,
        )
        task = None
        if answer.thin and answer.source_id is not None:
            task = BackgroundTask(_poll_now, app, answer.source_id)
        headers = {"Retry-After": "5"} if answer.status == 503 else None
        return PlainTextResponse(
            answer.message, status_code=answer.status, headers=headers, background=task
        )

    path = CALLBACK_PREFIX + "{token}"
    return [Route(path, verify, methods=["GET"]), Route(path, deliver, methods=["POST"])]


async def _poll_now(app: App, source_id: int) -> None:
    """A thin ping's poll, right away (a worker would take the source at its next tick anyway)."""
    try:
        await Poller(app.db, app.settings).poll([source_id])
    except Exception:
        log.exception("websub poll after a thin ping failed", extra={"source_id": source_id})
