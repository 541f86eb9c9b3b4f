"""The dashboard's request handling: the session and CSRF guard, rendering, pages, login, actions.

``Dashboard`` holds what every request needs (config, database, clock, auth, page
cache); ``sequencer.web.app.create_app`` turns its handlers into routes. Every page
is server-rendered; htmx only re-fetches the figures part of a page every
``web.refresh_seconds``. Pages read through ``sequencer.reporting`` (via
``sequencer.web.pages``); actions go through ``sequencer.people.handling``, each one
transaction committed before the redirect. Errors render a plain page, never a
traceback, and no secret is ever put in a page.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from sequencer.clock import Clock
from sequencer.config import Config
from sequencer.errors import IllegalTransition, NotFound, SequencerError, UserError
from sequencer.people import handling
from sequencer.reporting import html as report_html
from sequencer.reporting.dashboard import DATABASE_ERRORS, Database, mailbox_statuses
from sequencer.web import pages, timeline_view
from sequencer.web.auth import COOKIE, Session, WebAuth
from sequencer.web.cache import PageCache
from sequencer.web.csv_export import csv_table
from sequencer.web.filters import Filters
from sequencer.web.leads_page import leads_url
from sequencer.web.security import HTMX_CONFIG
from sequencer.web.users import NO_LOGIN, Gate

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
MAX_FORM_BYTES = 16 * 1024

Handler = Callable[[Request], Awaitable[Response]]


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(HERE / "templates")),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # The report's own formats: a figure reads the same on the dashboard, in the report and digest.
    env.filters["money"] = lambda v: "" if v is None else report_html.money(v)
    env.filters["pct"] = report_html.pct
    env.filters["hours"] = report_html.hours
    env.filters["urlpart"] = lambda v: quote(str(v), safe="@")
    env.globals["leads_url"] = leads_url  # every figure links to the leads behind it
    env.globals["timeline_once"] = timeline_view.once
    env.filters["words"] = timeline_view.words
    return env


class Dashboard:
    """Holds what every request needs; ``create_app`` turns it into routes."""

    def __init__(
        self,
        config: Config,
        db: Database,
        clock: Clock,
        auth: WebAuth,
        refresh_seconds: int | None = None,
        cache_seconds: float = 10.0,
    ) -> None:
        self.config = config
        self.db = db
        self.clock = clock
        self.auth = auth
        self.refresh = refresh_seconds or config.web.refresh_seconds
        self.env = _environment()
        self.cache = PageCache(cache_seconds)
        self.gate = Gate(config, db, clock, auth)
        self.secure_cookie = bool(config.web.base_url and config.web.base_url.startswith("https:"))

    def warm_up(self) -> None:
        """Build the unfiltered home and pipeline figures in the background at start-up,
        so the first manager of the morning does not wait for the report."""
        if self.cache.max_age <= 0:
            return
        unfiltered = Filters()

        def build() -> None:
            try:
                for name, page in (("home", self.build_home), ("pipeline", self.build_pipeline)):
                    self.cache.get((name, unfiltered, ()), lambda page=page: page(None, unfiltered))
            except Exception:  # a page will show the error when asked; start-up goes on
                log.exception("warming up the dashboard failed")

        threading.Thread(target=build, name="dashboard-warm-up", daemon=True).start()

    # -- helpers ----------------------------------------------------------------------
    def zone_name(self) -> str:
        """The viewer's zone: ``reporting.timezone``, else the team's ``timezone``."""
        return self.config.reporting.timezone or self.config.timezone

    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.zone_name())

    def local(self, value: datetime | None, zone: str | None = None) -> Markup | str:
        """A time in the viewer's zone, the UTC instant on hover."""
        if value is None:
            return "–"
        tz = ZoneInfo(zone) if zone else self.tz()
        utc = value.astimezone(UTC)
        return Markup('<time datetime="{}" title="{} UTC">{}</time>').format(
            utc.isoformat().replace("+00:00", "Z"), utc.strftime("%Y-%m-%d %H:%M"),
            value.astimezone(tz).strftime("%a %d %b %Y %H:%M %Z"),
        )

    def render(
        self, request: Request, template: str, status: int = 200, **ctx: Any
    ) -> HTMLResponse:
        session: Session | None = getattr(request.state, "session", None)
        viewer = Gate.viewer(request)
        root = request.scope.get("root_path", "")
        rel = (
            request.url.path[len(root) :]
            if root and request.url.path.startswith(root)
            else request.url.path
        )
        query = f"?{request.url.query}" if request.url.query else ""
        if rel.startswith("/partial/"):  # a refresh: links and forms point at the full page
            rel = rel.removeprefix("/partial")
            rel = "/" if rel == "/home" else rel
        base = {
            "rel_path": rel,
            "rel_page": rel + query,
            "partial_url": "/partial" + (rel if rel != "/" else "/home") + query,
            "u": lambda path: root + path,
            "csrf": session.csrf if session else "",
            "user": None if viewer is None or viewer is NO_LOGIN else viewer.name,
            "auth_required": self.auth.required or bool(getattr(request.state, "login", False)),
            "htmx_config": HTMX_CONFIG,
            "refresh": self.refresh,
            "local": self.local,
            "tz": self.zone_name(),
            "now": self.clock.now(),
            "path": request.url.path,
            "notice": request.query_params.get("notice"),
        }
        html = self.env.get_template(template).render({**base, **ctx})
        return HTMLResponse(html, status_code=status)

    def error_page(self, request: Request, status: int, message: str) -> HTMLResponse:
        return self.render(
            request, "error.html", status=status, status_code=status, message=message
        )

    def actor(self, request: Request) -> str:
        """The logged-in user (``web:NAME``), never a name typed into a form; ``web`` without login."""
        viewer = Gate.viewer(request)
        return viewer.actor if viewer is not None and viewer is not NO_LOGIN else "web"

    # -- the guard around every route ----------------------------------------------------
    def guarded(self, handler: Handler, *, public: bool = False) -> Handler:
        async def endpoint(request: Request) -> Response:
            session = self.auth.load(request.cookies.get(COOKIE))
            fresh = session is None
            if session is None:
                session = self.auth.new_session()
            request.state.session = session
            request.state.form = {}
            request.state.viewer = None
            try:
                Filters.parse(request.query_params)  # every route's query checked in one place
                viewer, mode = await run_in_threadpool(self.gate.identify, request, session)
                if session.sid and (viewer is None or viewer is NO_LOGIN):
                    # logged out, revoked or timed out: start over, and its CSRF token is void
                    session, fresh = self.auth.new_session(), True
                    request.state.session = session
                request.state.viewer = viewer
                request.state.login = self.gate.login_required(mode)
                if request.method == "POST":
                    body = await request.body()
                    if len(body) > MAX_FORM_BYTES:
                        return self.error_page(request, 413, "That form is too large.")
                    request.state.form = dict(
                        parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
                    )
                    if not self.auth.csrf_ok(
                        None if fresh else session, request.state.form.get("csrf")
                    ):
                        return self.error_page(
                            request,
                            403,
                            "This form has expired or did not come from the dashboard. Reload the page and try again.",
                        )
                if not public and viewer is None:
                    return self._to_login(request)
                response = await handler(request)
            except NotFound as exc:
                response = self.error_page(request, 404, str(exc))
            except (IllegalTransition, UserError) as exc:
                response = self.error_page(
                    request, 400 if not isinstance(exc, IllegalTransition) else 409, str(exc)
                )
            except DATABASE_ERRORS:
                log.exception("database error serving %s", request.url.path)
                response = self.error_page(
                    request, 503, "The database did not answer. Try again in a moment."
                )
            except SequencerError as exc:
                response = self.error_page(request, 500, str(exc))
            if fresh:
                self.set_session(response, session, request)
            return response

        return endpoint

    def set_session(self, response: Response, session: Session, request: Request) -> None:
        response.set_cookie(
            COOKIE,
            self.auth.dump(session),
            max_age=int(self.auth.session_hours * 3600),
            path=request.scope.get("root_path", "") or "/",
            httponly=True,
            samesite="strict",
            secure=self.secure_cookie or request.url.scheme == "https",
        )

    def _to_login(self, request: Request) -> Response:
        root = request.scope.get("root_path", "")
        path = request.url.path
        path = path[len(root) :] if root and path.startswith(root) else path
        target = path + (f"?{request.url.query}" if request.url.query else "")
        login = f"{root}/login?{urlencode({'next': target})}"
        if request.headers.get("hx-request"):
            return Response(status_code=401, headers={"HX-Redirect": login})
        return RedirectResponse(login, status_code=303)

    def back(self, request: Request, fallback: str = "/", **params: str) -> RedirectResponse:
        """Redirect after a POST to the page it came from (only a path on this site)."""
        target = request.state.form.get("next") or fallback
        if not target.startswith("/") or target.startswith("//") or "\\" in target:
            target = fallback
        if params:
            target += ("&" if "?" in target else "?") + urlencode(params)
        return RedirectResponse(request.scope.get("root_path", "") + target, status_code=303)

    # -- pages ----------------------------------------------------------------------------
    def page(
        self, name: str, build: Callable[[Request, Filters], Any], *, partial: bool
    ) -> Handler:
        async def handler(request: Request) -> Response:
            f = self.gate.scoped(request, Filters.parse(request.query_params))
            if name == "lead":  # a timeline is one prospect's rows: always read fresh
                data = await run_in_threadpool(build, request, f)
            else:
                key = (name, f, tuple(sorted(request.path_params.items())))
                data = await run_in_threadpool(self.cache.get, key, lambda: build(request, f))
            template = f"{name}_body.html" if partial else "page.html"
            return self.render(
                request,
                template,
                page=name,
                body=f"{name}_body.html",
                data=data,
                f=f,
                reps=self._reps(data),
                sequences=self._sequences(data),
                mailboxes=await run_in_threadpool(mailbox_statuses, self.db, self.config),
            )

        return handler

    def _reps(self, data: Any) -> list[str]:
        report = getattr(data, "report", None)
        names = set(handling.known_reps(self.config))
        if report is not None:
            names |= {fig.owner for fig in report.reps if fig.owner}
        return sorted(names)

    def _sequences(self, data: Any) -> list[str]:
        report = getattr(data, "report", None)
        return (
            sorted(fig.sequence_id for fig in report.sequences if fig.sequence_id) if report else []
        )

    def build_home(self, request: Request | None, f: Filters) -> pages.HomePage:
        return pages.home(self.db, self.config, self.clock.now(), f)

    def build_pipeline(self, request: Request | None, f: Filters) -> pages.PipelinePage:
        return pages.pipeline(self.db, self.config, self.clock.now(), f)

    def build_reps(self, request: Request, f: Filters) -> pages.RepsPage:
        return pages.reps(self.db, self.config, self.clock.now(), f)

    def build_lead(self, request: Request, f: Filters) -> handling.LeadView:
        view = pages.lead(self.db, self.config, self.clock.now(), request.path_params["email"])
        return self.gate.check_lead(request, view)

    def build_sequence(self, request: Request, f: Filters) -> pages.SequencePage:
        return pages.sequence(
            self.db, self.config, self.clock.now(), request.path_params["sequence_id"], f
        )

    async def csv(self, request: Request) -> Response:
        f = self.gate.scoped(request, Filters.parse(request.query_params))
        table = request.path_params["table"].removesuffix(".csv")
        text = await run_in_threadpool(
            csv_table, self.db, self.config, self.clock.now(), f, table
        )
        stamp = self.clock.now().strftime("%Y%m%d-%H%M")
        return Response(
            text,
            media_type="text/csv; charset=utf-8",
            headers={
                "content-disposition": f'attachment; filename="sequencer-{table}-{stamp}.csv"'
            },
        )

    # -- login ----------------------------------------------------------------------------
    async def login_form(self, request: Request) -> Response:
        if not request.state.login:
            return RedirectResponse(request.scope.get("root_path", "") + "/", status_code=303)
        return self.render(
            request, "login.html", next=request.query_params.get("next", "/"), error=None
        )

    async def login(self, request: Request) -> Response:
        """Throttled per account and address before the password is even checked (429 with
        Retry-After); a success opens a server-side session with a new CSRF token."""
        form = request.state.form
        if not request.state.login:
            return self.back(request)
        name = " ".join(form.get("name", "").split())[:60]
        wait = await run_in_threadpool(self.gate.charge, request, name)
        if wait is not None:
            log.warning("dashboard login throttled for %d s", wait)
            response = self.render(
                request,
                "login.html",
                status=429,
                next=form.get("next", "/"),
                error=f"Too many failed logins. Try again in {wait} seconds.",
            )
            response.headers["Retry-After"] = str(wait)
            return response
        viewer = await run_in_threadpool(self.gate.check_login, name, form.get("secret", ""))
        if viewer is None:
            return self.render(
                request,
                "login.html",
                status=401,
                next=form.get("next", "/"),
                error="That name, password or token is not right.",
            )
        sid = await run_in_threadpool(self.gate.logged_in, request, name, viewer)
        session = self.auth.new_session(user=viewer.name, sid=sid)  # a new CSRF token at login
        response = self.back(request)
        self.set_session(response, session, request)
        return response

    async def logout(self, request: Request) -> Response:
        """Ends the server-side session, so a copied cookie is worth nothing afterwards."""
        session: Session | None = getattr(request.state, "session", None)
        await run_in_threadpool(self.gate.logout, session)
        response = RedirectResponse(
            request.scope.get("root_path", "") + "/login?notice=logout", status_code=303
        )
        response.delete_cookie(COOKIE, path=request.scope.get("root_path", "") or "/")
        return response

    # -- actions ---------------------------------------------------------------------------
    def _enrollment_id(self, request: Request) -> int:
        raw = request.state.form.get("enrollment_id", "")
        if not raw.isdigit():
            raise UserError("the form names no enrollment")
        return int(raw)

    async def act(self, request: Request) -> Response:
        form = request.state.form
        what = request.path_params["action"]
        eid = self._enrollment_id(request)
        await run_in_threadpool(self.gate.check_enrollment, request, eid)  # a rep: own leads only
        now, actor = self.clock.now(), self.actor(request)
        if what == "pause":
            done = await run_in_threadpool(
                handling.pause, self.db, eid, reason=form.get("reason"), now=now, actor=actor
            )
        elif what == "resume":
            done = await run_in_threadpool(
                handling.resume,
                self.db,
                self.config,
                eid,
                reason=form.get("reason"),
                now=now,
                actor=actor,
            )
        elif what == "reassign":
            done = await run_in_threadpool(
                handling.reassign,
                self.db,
                self.config,
                eid,
                owner=form.get("owner", ""),
                now=now,
                actor=actor,
            )
        elif what == "handled":
            done = await run_in_threadpool(
                handling.mark_handled, self.db, eid, note=form.get("note"), now=now, actor=actor
            )
        else:
            raise NotFound(f"no action {what!r}")
        self.cache.clear()
        log.info("dashboard action %s on enrollment %s by %s", what, eid, actor)
        return self.back(request, f"/leads/{quote(done.email, safe='@')}", notice=done.message)


