"""The dashboard's Starlette application: routes, error pages, security headers.

Starlette (ASGI, served by uvicorn) was chosen over Flask because it is small,
ships a test client, and lets one process serve many polling browsers while the
database work runs in worker threads; templates are Jinja2, as for the emails.
What each request does lives in ``sequencer.web.dashboard``; the headers every
response carries in ``sequencer.web.security``. Security in short:
- a Content-Security-Policy of ``default-src 'self'`` plus nosniff/frame denial;
- a ``Host`` that is not loopback, ``web.base_url``'s or listed in ``web.allowed_hosts``
  gets 400 (DNS rebinding), in every mode;
- every POST must carry the session's CSRF token, else 403;
- with a password or token configured, every page but /login redirects there;
- everything from mail is autoescaped; errors render a plain page, never a
  traceback, and no secret is ever put in a page.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from sequencer.clock import Clock
from sequencer.config import Config
from sequencer.reporting.dashboard import Database
from sequencer.web.auth import WebAuth, auth_from_env
from sequencer.web.dashboard import HERE, Dashboard
from sequencer.web.intent_page import IntentPages
from sequencer.web.leads_page import LeadsPages
from sequencer.web.security import CSP, HostAllowList, SecurityHeaders, allowed_hosts

log = logging.getLogger(__name__)


def create_app(
    config: Config,
    db: Database,
    clock: Clock,
    *,
    auth: WebAuth | None = None,
    refresh_seconds: int | None = None,
    cache_seconds: float = 10.0,
    extra_hosts: tuple[str, ...] = (),
) -> Starlette:
    """The dashboard as an ASGI app. ``auth`` defaults to the secrets named in ``config.web``.

    ``refresh_seconds`` (default ``web.refresh_seconds``) is how often pages re-fetch
    their figures; ``cache_seconds`` how long computed figures are reused (0: never).
    ``extra_hosts`` are further Host names to serve (``sequencer web --host`` passes the
    address it binds, when that is a literal address).
    """
    dash = Dashboard(
        config, db, clock, auth or auth_from_env(config.web), refresh_seconds, cache_seconds
    )
    g = dash.guarded
    leads = LeadsPages(dash)
    intents = IntentPages(dash)
    # Before "/leads/{email:path}" and "/actions/{action}": the first full match wins.
    routes: list[Any] = [
        Route("/leads", g(leads.page), name="leads"),
        Route("/partial/leads", g(leads.partial), name="leads_partial"),
        Route("/leads.csv", g(leads.csv), name="leads_csv"),
        Route("/leads/bulk", g(leads.bulk), methods=["POST"], name="leads_bulk"),
        Route("/actions/stage", g(leads.stage), methods=["POST"], name="stage"),
        Route("/actions/intent", g(intents.correct), methods=["POST"], name="intent"),
        Route("/coming-back", g(intents.coming_back), name="coming_back"),
        Route("/partial/coming-back", g(intents.coming_back_partial), name="coming_back_partial"),
    ]
    page_routes = {
        "home": ("/", dash.build_home),
        "pipeline": ("/pipeline", dash.build_pipeline),
        "reps": ("/reps", dash.build_reps),
        "lead": ("/leads/{email:path}", dash.build_lead),
        "sequence": ("/sequences/{sequence_id}", dash.build_sequence),
    }
    for name, (path, build) in page_routes.items():
        routes.append(Route(path, g(dash.page(name, build, partial=False)), name=name))
        routes.append(
            Route(
                "/partial" + (path if path != "/" else "/home"),
                g(dash.page(name, build, partial=True)),
                name=f"{name}_partial",
            )
        )

    async def health(request: Request) -> Response:
        return PlainTextResponse("ok")

    routes += [
        Route("/csv/{table}", g(dash.csv)),
        Route("/login", g(dash.login_form, public=True), methods=["GET"]),
        Route("/login", g(dash.login, public=True), methods=["POST"]),
        Route("/logout", g(dash.logout, public=True), methods=["POST"]),
        Route("/actions/{action}", g(dash.act), methods=["POST"]),
        Route("/healthz", health),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        text = {404: "There is no such page.", 405: "That method is not allowed here."}.get(
            status, "Something went wrong."
        )
        return dash.render(request, "error.html", status=status, status_code=status, message=text)

    async def server_error(request: Request, exc: Exception) -> Response:
        ref = secrets.token_hex(4)
        log.error(
            "dashboard error %s on %s: %s", ref, request.url.path, type(exc).__name__, exc_info=exc
        )
        return HTMLResponse(
            "<!doctype html><title>Error</title><h1>Something went wrong</h1>"
            f"<p>The error was logged with reference {ref}.</p>",
            status_code=500,
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        dash.warm_up()
        yield

    app = Starlette(
        debug=False,
        routes=routes,
        exception_handlers={HTTPException: http_error, Exception: server_error},
        lifespan=lifespan,
    )
    app.add_middleware(SecurityHeaders)
    # added last, so it runs first: a foreign Host gets nothing but a 400
    app.add_middleware(
        HostAllowList, hosts=allowed_hosts(config.web.base_url, [*config.web.allowed_hosts, *extra_hosts])
    )
    app.state.dashboard = dash
    return app


__all__ = ["CSP", "Dashboard", "create_app"]
