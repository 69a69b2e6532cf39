"""Security plumbing for the web app: response headers, CSRF tokens, trusted proxies."""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aggregator.config import WebSettings

PAGE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'none'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
"""The subscriber pages: one served stylesheet, no script, no inline style."""
PUBLIC_CSP = (
    "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' https: data:; "
    "script-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
"""Published archive pages carry the digest's inline CSS (mail needs it), but never script.
The static handler sets it on its own responses; everything else gets PAGE_CSP."""
FEED_CSP = PUBLIC_CSP.replace("script-src 'none'", "script-src 'self'")
"""Atom and RSS feeds: as PUBLIC_CSP, but a browser may load the site's XSL stylesheet (CSP
counts XSLT as script). The stylesheet writes every feed value as text, and the folder serves
nothing with a script's media type."""

CSRF_COOKIE = "aggregator_csrf"
CSRF_FIELD = "csrf_token"
CSRF_MAX_AGE = 12 * 3600
"""A form left open longer than this must be reloaded."""


class SecurityHeaders:
    """ASGI middleware adding security headers to every HTTP response, errors included."""

    def __init__(self, app: ASGIApp, *, https: bool) -> None:
        self.app = app
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", PAGE_CSP)
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "no-referrer"
                headers["X-Frame-Options"] = "DENY"
                headers["Cross-Origin-Opener-Policy"] = "same-origin"
                headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
                if self.https:
                    headers["Strict-Transport-Security"] = "max-age=31536000"
            await send(message)

        await self.app(scope, receive, send_with_headers)


class CSRF:
    """Signed double-submit tokens: a random cookie, and a form field that is its signature.

    A cross-site page can make a browser send the cookie but cannot read it, so it cannot
    produce the matching field. The one-click unsubscribe endpoint does not use this.
    """

    def __init__(self, secret: str, *, secure_cookie: bool) -> None:
        self._signer = URLSafeTimedSerializer(secret, salt="aggregator.web.csrf")
        self.secure_cookie = secure_cookie

    def issue(self, request: Request) -> tuple[str, str | None]:
        """``(form_token, new_cookie_value_or_None)`` for a page that shows a form."""
        current = request.cookies.get(CSRF_COOKIE, "")
        cookie = current if 20 <= len(current) <= 64 else secrets.token_urlsafe(24)
        return self._signer.dumps(cookie), (None if cookie == current else cookie)

    def set_cookie(self, response: Response, value: str | None) -> None:
        if value is not None:
            response.set_cookie(
                CSRF_COOKIE,
                value,
                httponly=True,
                samesite="lax",
                secure=self.secure_cookie,
                path="/",
            )

    def valid(self, request: Request, form_token: object) -> bool:
        """True when the submitted field is a fresh signature of the request's cookie."""
        cookie = request.cookies.get(CSRF_COOKIE, "")
        if not cookie or not isinstance(form_token, str) or len(form_token) > 200:
            return False
        try:
            signed = self._signer.loads(form_token, max_age=CSRF_MAX_AGE)
        except BadSignature:
            return False
        return isinstance(signed, str) and hmac.compare_digest(signed, cookie)


def client_address(request: Request) -> str:
    """The peer address; behind a proxy listed in ``web.trusted_proxies``, the real client
    (uvicorn puts it here, see :func:`proxy_options`)."""
    return request.client.host if request.client else "unknown"


def proxy_options(web: WebSettings) -> dict[str, Any]:
    """``uvicorn.Config`` keyword arguments that believe X-Forwarded-For/-Proto only from the
    proxies in ``web.trusted_proxies``.

    uvicorn's own default trusts any peer on 127.0.0.1, so anything on the same host (or a
    proxy passing the header through) could name a new client address per request and slip
    past the per-address limits. With no trusted proxy, the headers are ignored.
    """
    if not web.trusted_proxies:
        return {"proxy_headers": False, "forwarded_allow_ips": []}
    networks = [str(ipaddress.ip_network(p, strict=False)) for p in web.trusted_proxies]
    return {"proxy_headers": True, "forwarded_allow_ips": networks}
