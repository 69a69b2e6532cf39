"""The ASGI web app: subscriber pages, the published folder, ``/healthz`` and ``/metrics``.

Routes:
  GET/POST /subscribe                 the form; double opt-in mail
  GET/POST /confirm/<token>           a button; only the POST confirms (mail scanners follow links)
  GET/POST /preferences/<token>       digests, topics, sources, time zone, pause/resume, resubscribe
  GET/POST /unsubscribe/<token>       a button; also RFC 8058 one-click (no cookie, no CSRF field)
  GET/POST /websub/<token>            a WebSub hub's intent verification and pushes (web/websub.py)
  GET      /digests/                   a redirect to the archive index (``/``)
  GET      /healthz, /metrics, /assets/style.css, and everything else from ``public/``
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route

from aggregator.app import App
from aggregator.mail.links import ExpiredToken, TokenError, link_path, read_token
from aggregator.mail.mailer import Mailer, MailKind, Recipient
from aggregator.mail.transport import Transport, transport_for
from aggregator.metrics import SUBSCRIBE_REQUESTS, render_metrics
from aggregator.model.status import STICKY, SubscriberStatus
from aggregator.store import subscribers as lifecycle
from aggregator.store.models import Subscriber
from aggregator.store.state import SharedRateLimiter
from aggregator.templating import render, source
from aggregator.web import subscriptions as subs
from aggregator.web.security import CSRF, CSRF_FIELD, SecurityHeaders, client_address
from aggregator.web.static import public_app
from aggregator.web.subscriptions import Catalogue, FormError
from aggregator.web.websub import websub_routes

log = logging.getLogger("aggregator.web")

MAX_FORM_BYTES = 64 * 1024
HONEYPOT_FIELD = "website"
ONE_CLICK = ("List-Unsubscribe", "One-Click")


@dataclass
class Button:
    """A one-button form on a notice page."""

    action: str
    label: str
    fields: dict[str, str] = field(default_factory=dict)
    kind: str = "primary"


class _Refusal(Exception):
    """Stop handling the request and answer with this response."""

    def __init__(self, response: Response) -> None:
        self.response = response


class _Site:
    """The handlers, sharing settings, store, signing key and mailer."""

    def __init__(self, app: App, transport: Transport | None) -> None:
        self.settings = app.settings
        self.db = app.db
        self.secret = app.secret_key
        self._transport = transport
        self.https = self.settings.general.base_url.startswith("https://")
        self.csrf = CSRF(self.secret, secure_cookie=self.https)
        self.ip_limit = SharedRateLimiter(
            self.db, self.settings.web.subscribe_per_ip_per_hour, 3600
        )
        self.css = source("web/style.css", self.settings.templates_dir).encode("utf-8")
        self.css_version = hashlib.sha256(self.css).hexdigest()[:16]
        self.css_etag = f'"{self.css_version}"'

    @cached_property
    def mailer(self) -> Mailer:
        return Mailer(self.settings, self.secret, self._transport or transport_for(self.settings))

    # -- rendering --------------------------------------------------------------------------

    def page(
        self,
        request: Request,
        template: str,
        status: int = 200,
        *,
        form: bool = False,
        **context: Any,
    ) -> HTMLResponse:
        """Render ``web/<template>``; pages with forms get a CSRF token (and cookie if needed)."""
        token, new_cookie = self.csrf.issue(request) if form else ("", None)
        html = render(
            f"web/{template}",
            {
                "site_name": self.settings.general.name,
                "css_url": f"/assets/style.css?v={self.css_version}",
                "csrf_field": CSRF_FIELD,
                "csrf_token": token,
                **context,
            },
            self.settings.templates_dir,
        )
        response = HTMLResponse(html, status, headers={"Cache-Control": "no-store"})
        self.csrf.set_cookie(response, new_cookie)
        return response

    def notice(
        self,
        request: Request,
        heading: str,
        *paragraphs: str,
        status: int = 200,
        tone: str = "info",
        links: list[tuple[str, str]] | None = None,
        button: Button | None = None,
    ) -> HTMLResponse:
        return self.page(
            request,
            "notice.html.j2",
            status,
            form=button is not None,
            heading=heading,
            paragraphs=paragraphs,
            tone=tone,
            links=links or [],
            button=button,
        )

    def link(self, purpose: str, subscriber_id: int) -> str:
        return link_path(self.secret, purpose, subscriber_id)

    # -- request helpers ----------------------------------------------------------------------

    async def read_form(self, request: Request, *, csrf: bool = True) -> FormData:
        """The posted form, size-checked; CSRF-checked unless ``csrf`` is False."""
        length = subs.whole_number(request.headers.get("content-length"))
        if length is None:
            raise _Refusal(self.notice(request, "Length required", status=411, tone="error"))
        if length > MAX_FORM_BYTES:
            raise _Refusal(
                self.notice(
                    request, "Too much data", "The form was too large.", status=413, tone="error"
                )
            )
        try:
            form = await request.form(max_files=0, max_fields=600)
        except (MultiPartException, ValueError):
            raise _Refusal(self.notice(request, "Bad form", status=400, tone="error")) from None
        if csrf:
            self.check_csrf(request, form)
        return form

    def check_csrf(self, request: Request, form: FormData) -> None:
        """Refuse a form without this visitor's valid CSRF token."""
        if not self.csrf.valid(request, form.get(CSRF_FIELD)):
            raise _Refusal(self.csrf_refusal(request))

    def csrf_refusal(self, request: Request) -> HTMLResponse:
        back = request.url.path
        return self.notice(
            request,
            "This form has expired",
            "For your safety, forms only work for a while and only from this site. "
            "Please go back, reload the page and try again.",
            status=403,
            tone="error",
            links=[("Reload the form", back)],
        )

    def subscriber_for(self, request: Request, purpose: str) -> Subscriber:
        """The subscriber named by the path's token, or a refusal page."""
        max_age = self.settings.web.confirm_max_age_hours * 3600 if purpose == "confirm" else None
        try:
            subscriber_id = read_token(self.secret, request.path_params["token"], purpose, max_age)
        except ExpiredToken as exc:
            raise _Refusal(
                self.notice(
                    request,
                    "This link has expired",
                    f"{exc} Confirmation links work for "
                    f"{self.settings.web.confirm_max_age_hours:g} hours. "
                    "Subscribe again to get a fresh one.",
                    status=410,
                    tone="error",
                    links=[("Subscribe again", "/subscribe")],
                )
            ) from None
        except TokenError as exc:
            raise _Refusal(
                self.notice(request, "This link does not work", str(exc), status=400, tone="error")
            ) from None
        row = lifecycle.get(self.db, subscriber_id)
        if row is None:
            raise _Refusal(
                self.notice(
                    request,
                    "This link does not work",
                    "We have no subscription for it any more.",
                    status=404,
                    tone="error",
                    links=[("Subscribe", "/subscribe")],
                )
            )
        return row

    def catalogue(self) -> Catalogue:
        return subs.load_catalogue(self.db, self.settings)

    # -- /subscribe ---------------------------------------------------------------------------

    async def subscribe_form(self, request: Request) -> Response:
        catalogue = await run_in_threadpool(self.catalogue)
        first = [catalogue.digests[0][0]] if catalogue.digests else []
        return self.subscribe_page(
            request, catalogue, email="", chosen=lifecycle.Choices(first, [], [])
        )

    def subscribe_page(
        self,
        request: Request,
        catalogue: Catalogue,
        *,
        email: str,
        chosen: lifecycle.Choices,
        error: str = "",
        error_field: str = "",
        status: int = 200,
    ) -> HTMLResponse:
        return self.page(
            request,
            "subscribe.html.j2",
            status,
            form=True,
            catalogue=catalogue,
            email=email,
            chosen=chosen,
            error=error,
            error_field=error_field,
            honeypot=HONEYPOT_FIELD,
        )

    async def subscribe(self, request: Request) -> Response:
        wait = self.ip_limit.hit(client_address(request))
        if wait:
            SUBSCRIBE_REQUESTS.labels("rate_limited").inc()
            response = self.notice(
                request,
                "Too many requests",
                "This network has sent the form too often. Please try again later.",
                status=429,
                tone="error",
            )
            response.headers["Retry-After"] = str(int(wait) + 1)
            return response
        try:
            form = await self.read_form(request)
        except _Refusal as refusal:
            SUBSCRIBE_REQUESTS.labels(
                "csrf" if refusal.response.status_code == 403 else "invalid"
            ).inc()
            return refusal.response
        catalogue = await run_in_threadpool(self.catalogue)
        raw_email = form.get("email")
        shown = raw_email[:320] if isinstance(raw_email, str) else ""
        try:
            email = subs.parse_email(raw_email)
        except FormError as exc:
            return self._invalid(request, catalogue, form, shown, str(exc), "email")
        try:
            choices = subs.parse_choices(form, catalogue)
        except FormError as exc:
            return self._invalid(request, catalogue, form, shown, str(exc), "choices")
        if form.get(HONEYPOT_FIELD):
            SUBSCRIBE_REQUESTS.labels("honeypot").inc()
            return self.sent_page(request, email)
        window = timedelta(minutes=self.settings.web.confirmation_window_minutes)
        recipient, kind = await run_in_threadpool(
            lambda: lifecycle.request_subscription(
                self.db, email, choices, now=datetime.now(UTC), window=window
            )
        )
        SUBSCRIBE_REQUESTS.labels("accepted").inc()
        response = self.sent_page(request, email)
        if kind is not None:
            response.background = BackgroundTask(self._mail, kind, recipient)
        return response

    def sent_page(self, request: Request, email: str) -> HTMLResponse:
        minutes = f"{self.settings.web.confirmation_window_minutes:g}"
        return self.page(request, "subscribe_sent.html.j2", email=email, window_minutes=minutes)

    def _invalid(
        self,
        request: Request,
        catalogue: Catalogue,
        form: FormData,
        email: str,
        error: str,
        error_field: str,
    ) -> HTMLResponse:
        SUBSCRIBE_REQUESTS.labels("invalid").inc()
        chosen = lifecycle.Choices(
            [v for v in form.getlist("digest") if isinstance(v, str)],
            [v for v in form.getlist("tag") if isinstance(v, str)],
            [n for n in map(subs.whole_number, form.getlist("source")) if n is not None],
        )
        return self.subscribe_page(
            request,
            catalogue,
            email=email,
            chosen=chosen,
            error=error,
            error_field=error_field,
            status=400,
        )

    def _mail(self, kind: MailKind, recipient: Recipient) -> None:
        """Runs after the answer went out, so timing does not tell which mail (if any) was due."""
        if not self.mailer.send(kind, recipient):
            lifecycle.mail_not_sent(self.db, recipient.id)

    # -- /confirm -----------------------------------------------------------------------------

    async def confirm(self, request: Request) -> Response:
        try:
            if request.method == "POST":
                await self.read_form(request)
            row = await run_in_threadpool(self.subscriber_for, request, "confirm")
            if request.method == "POST":
                now = datetime.now(UTC)
                recipient, outcome = await run_in_threadpool(
                    lambda: lifecycle.confirm(self.db, row.id, now=now)
                )
                status = recipient.status if recipient else "gone"
            else:
                status, outcome = row.status, "unchanged"
        except _Refusal as refusal:
            return refusal.response
        if status == SubscriberStatus.PENDING:
            return self.notice(
                request,
                "Confirm your subscription",
                f"Press the button to start receiving digests at {row.email}.",
                button=Button(request.url.path, "Confirm subscription"),
            )
        if status in (SubscriberStatus.ACTIVE, SubscriberStatus.PAUSED):
            done = "You are subscribed" if outcome == "done" else "Already confirmed"
            return self.notice(
                request,
                done,
                f"Digests will be sent to {row.email}. Every digest has links to change what you "
                "receive or to unsubscribe.",
                tone="ok",
                links=[("Manage your subscription", self.link("preferences", row.id))],
            )
        return self.notice(
            request,
            "This link is no longer valid",
            "This subscription was cancelled. You can subscribe again at any time.",
            status=409 if request.method == "POST" else 200,
            tone="error",
            links=[("Subscribe", "/subscribe")],
        )

    # -- /preferences -------------------------------------------------------------------------

    async def preferences(self, request: Request) -> Response:
        try:
            form = await self.read_form(request) if request.method == "POST" else None
            row = await run_in_threadpool(self.subscriber_for, request, "preferences")
            catalogue = await run_in_threadpool(self.catalogue)
        except _Refusal as refusal:
            return refusal.response
        saved, error = False, ""
        if form is not None and form.get("action") == "resubscribe":
            now = datetime.now(UTC)
            await run_in_threadpool(lambda: lifecycle.resubscribe(self.db, row.id, now=now))
            fresh = await run_in_threadpool(lifecycle.get, self.db, row.id)
            row = fresh or row
            saved = row.status == SubscriberStatus.ACTIVE
        elif form is not None and row.status in (SubscriberStatus.ACTIVE, SubscriberStatus.PAUSED):
            try:
                choices = subs.parse_choices(form, catalogue)
                timezone = subs.parse_timezone(form.get("timezone"))
                language = subs.parse_language(form.get("language"))
            except FormError as exc:
                error = str(exc)
            else:
                paused = form.get("delivery") == "paused"
                await run_in_threadpool(
                    lambda: lifecycle.update_preferences(
                        self.db,
                        row.id,
                        choices,
                        timezone=timezone,
                        paused=paused,
                        language=language,
                    )
                )
                fresh = await run_in_threadpool(lifecycle.get, self.db, row.id)
                row = fresh or row
                saved = True
        if row.status == SubscriberStatus.PENDING:
            return self.notice(
                request,
                "Waiting for confirmation",
                f"The subscription for {row.email} is not confirmed yet. "
                "Open the link in the confirmation mail we sent you.",
            )
        if row.status in STICKY:
            return self._inactive(request, row)
        return self.page(
            request,
            "preferences.html.j2",
            400 if error else 200,
            form=True,
            catalogue=catalogue,
            subscriber=row,
            chosen=lifecycle.Choices(list(row.digests), list(row.tags), list(row.sources)),
            timezones=subs.timezones(),
            languages=subs.language_names(),
            saved=saved,
            error=error,
            action=request.url.path,
            unsubscribe_url=self.link("unsubscribe", row.id),
        )

    def _inactive(self, request: Request, row: Subscriber) -> HTMLResponse:
        if row.status == SubscriberStatus.SUSPENDED:
            return self.notice(
                request,
                "Deliveries are suspended",
                f"Mail to {row.email} kept bouncing, so we stopped sending it. "
                "Please contact the operator of this site.",
                tone="error",
            )
        return self.notice(
            request,
            "You are unsubscribed",
            f"No more digests will be sent to {row.email}.",
            "Changed your mind? You can resubscribe with your previous choices.",
            tone="ok",
            button=Button(
                self.link("preferences", row.id),
                "Resubscribe",
                {"action": "resubscribe"},
                kind="secondary",
            ),
        )

    # -- /unsubscribe -------------------------------------------------------------------------

    async def unsubscribe(self, request: Request) -> Response:
        try:
            form = await self.read_form(request, csrf=False) if request.method == "POST" else None
            one_click = form is not None and form.get(ONE_CLICK[0]) == ONE_CLICK[1]
            if form is not None and not one_click:  # RFC 8058 one-click comes without a token
                self.check_csrf(request, form)
            row = await run_in_threadpool(self.subscriber_for, request, "unsubscribe")
        except _Refusal as refusal:
            return refusal.response
        if form is None and row.status not in STICKY:
            return self.notice(
                request,
                "Unsubscribe?",
                f"Press the button and no more digests will be sent to {row.email}.",
                button=Button(request.url.path, "Unsubscribe", kind="danger"),
                links=[("Or change what you receive instead", self.link("preferences", row.id))],
            )
        if form is not None:
            reason = "one-click unsubscribe" if one_click else "unsubscribed on the web"
            await run_in_threadpool(lambda: lifecycle.unsubscribe(self.db, row.id, reason=reason))
            if one_click:  # answered to a mail provider: no form, no cookie
                return self.notice(request, "You are unsubscribed", tone="ok")
            fresh = await run_in_threadpool(lifecycle.get, self.db, row.id)
            row = fresh or row
        return self._inactive(request, row)

    # -- operations ---------------------------------------------------------------------------

    async def healthz(self, request: Request) -> Response:
        problem = await run_in_threadpool(self._database_problem)
        body = {"status": "error" if problem else "ok", "database": problem or "ok"}
        return JSONResponse(body, 503 if problem else 200, headers={"Cache-Control": "no-store"})

    def _database_problem(self) -> str | None:
        try:
            with self.db.session() as session:
                session.execute(text("SELECT 1"))
        except (SQLAlchemyError, OSError) as exc:
            return str(exc).splitlines()[0][:200]
        return None

    async def metrics(self, request: Request) -> Response:
        body, content_type = await run_in_threadpool(render_metrics, self.db)
        return Response(body, headers={"Content-Type": content_type, "Cache-Control": "no-store"})

    async def digests(self, request: Request) -> Response:
        """The folder of archive pages has no page of its own: the archive index lists them."""
        return RedirectResponse("/", status_code=301)

    async def stylesheet(self, request: Request) -> Response:
        headers = {"ETag": self.css_etag, "Cache-Control": "public, max-age=86400"}
        if self.css_etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        return Response(self.css, media_type="text/css", headers=headers)

    async def http_error(self, request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        headings: Mapping[int, str] = {
            404: "Page not found",
            405: "Not allowed here",
        }
        if status >= 500:
            log.error("error answering %s %s: %s", request.method, request.url.path, exc)
        return self.notice(
            request,
            headings.get(status, "Something went wrong"),
            status=status,
            tone="error",
            links=[("Go to the front page", "/")],
        )


def create_app(app: App, *, transport: Transport | None = None) -> Starlette:
    """The web app for ``app``; mail goes through ``transport`` (default: the configured one)."""
    site = _Site(app, transport)
    page_methods = ["GET", "POST"]
    routes = [
        Route("/subscribe", site.subscribe_form, methods=["GET"]),
        Route("/subscribe", site.subscribe, methods=["POST"]),
        Route("/confirm/{token}", site.confirm, methods=page_methods),
        Route("/preferences/{token}", site.preferences, methods=page_methods),
        Route("/unsubscribe/{token}", site.unsubscribe, methods=page_methods),
        Route("/healthz", site.healthz, methods=["GET"]),
        Route("/metrics", site.metrics, methods=["GET"]),
        Route("/assets/style.css", site.stylesheet, methods=["GET"]),
        Route("/digests", site.digests, methods=["GET", "HEAD"]),
        Route("/digests/", site.digests, methods=["GET", "HEAD"]),
        *websub_routes(app),
        Mount(
            "/",
            app=public_app(
                app.settings.public_dir,
                hub_url=app.settings.publish.hub_url or None,
                base_url=app.settings.general.base_url,
            ),
        ),
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(SecurityHeaders, https=site.https)],
        exception_handlers={HTTPException: site.http_error, Exception: site.http_error},
    )
