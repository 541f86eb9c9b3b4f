"""Who is asking: the viewer of a request, the leads they may see, and the login throttle.

One place decides, per request: a live server-side session (cookie), else a bearer
token (a user's API token, or the bootstrap token while no manager exists), else the
trusted SSO header when ``web.sso_header`` is set. A rep's viewer carries an owner,
and ``Gate.scoped`` forces every page's and download's filter to it, so no page
handler can forget it; a lead or enrollment of another rep is a 404, as if it did not
exist. Everything here is synchronous (run in a worker thread) and takes ``now`` from
the app's clock.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from starlette.requests import Request

from sequencer.clock import Clock
from sequencer.config import Config
from sequencer.errors import NotFound
from sequencer.people import users, web_sessions
from sequencer.people.handling import LeadView
from sequencer.people.users import Viewer
from sequencer.reporting.dashboard import Database
from sequencer.web.auth import Session, WebAuth, bearer_of
from sequencer.web.filters import Filters

NO_LOGIN = Viewer(name="web", role="manager")  # loopback without any secret or user


class Gate:
    def __init__(self, config: Config, db: Database, clock: Clock, auth: WebAuth) -> None:
        self.config, self.db, self.clock, self.auth = config, db, clock, auth
        web = config.web
        self.idle = timedelta(minutes=web.idle_minutes)
        self.absolute = timedelta(hours=auth.session_hours)
        self.throttle = web_sessions.Throttle(
            backoff_after=web.login_backoff_after,
            lock_after=web.login_lock_after,
            lock=timedelta(minutes=web.login_lock_minutes),
        )

    def login_required(self, mode: users.Mode) -> bool:
        return self.auth.required or mode.users

    def identify(self, request: Request, session: Session) -> tuple[Viewer | None, users.Mode]:
        """The request's viewer (None: must log in) and the login mode."""
        mode = users.mode(self.db)
        now = self.clock.now()
        if session.sid:
            viewer = web_sessions.load_session(
                self.db, session.sid, now=now, idle=self.idle, absolute=self.absolute,
                bootstrap=mode.bootstrap and self.auth.required,
            )
            if viewer is not None:
                return viewer, mode
        bearer = bearer_of(request.headers.get("authorization"))
        if bearer and request.method == "GET":
            viewer = users.by_token(self.db, bearer, now=now)
            if viewer is None and mode.bootstrap and self.auth.accepts_bearer(
                request.headers.get("authorization")
            ):
                viewer = Viewer(name="token", role="manager")
            if viewer is not None:
                return viewer, mode
        header = self.config.web.sso_header
        named = request.headers.get(header) if header else None
        if named:
            viewer = users.by_name(self.db, named.strip())
            if viewer is not None:
                return viewer, mode
        if not self.login_required(mode):
            return NO_LOGIN, mode
        return None, mode

    # -- what a viewer may see ---------------------------------------------------------------
    @staticmethod
    def viewer(request: Request) -> Viewer | None:
        return getattr(request.state, "viewer", None)

    def scoped(self, request: Request, f: Filters) -> Filters:
        """The filters a page may use: a rep's are pinned to their own leads."""
        viewer = self.viewer(request)
        if viewer is not None and viewer.owner is not None:
            return dataclasses.replace(f, rep=viewer.owner)
        return f

    def check_lead(self, request: Request, view: LeadView) -> LeadView:
        viewer = self.viewer(request)
        if viewer is None or viewer.owner is None:
            return view
        tl = view.timeline
        if tl.owner != viewer.owner and all(e.owner != viewer.owner for e in tl.enrollments):
            raise NotFound(f"no prospect {request.path_params.get('email', '')!r}")
        return view

    def check_enrollment(self, request: Request, enrollment_id: int) -> None:
        viewer = self.viewer(request)
        if viewer is None or not users.may_act_on(self.db, viewer, enrollment_id):
            raise NotFound(f"no enrollment {enrollment_id}")

    def check_prospect(self, request: Request, email: str) -> None:
        viewer = self.viewer(request)
        if viewer is None or not users.may_act_on_prospect(self.db, viewer, email):
            raise NotFound(f"no prospect {email!r}")

    # -- logging in ---------------------------------------------------------------------------
    def _keys(self, request: Request, name: str) -> tuple[str, str]:
        address = request.client.host if request.client else "unknown"
        return f"account:{name.lower()[:60]}", f"addr:{address}"

    def charge(self, request: Request, name: str) -> int | None:
        """Seconds to wait (throttled: answer 429), else None after charging the attempt."""
        return web_sessions.charge_attempt(
            self.db, list(self._keys(request, name)), self.throttle, now=self.clock.now()
        )

    def check_login(self, name: str, secret: str) -> Viewer | None:
        """The user with this name and password, or the bootstrap manager while allowed."""
        now = self.clock.now()
        viewer = users.authenticate(self.db, name, secret, now=now)
        if viewer is None and users.mode(self.db).bootstrap and self.auth.accepts(secret):
            viewer = Viewer(name=name or "manager", role="manager")
        return viewer

    def logged_in(self, request: Request, name: str, viewer: Viewer) -> str:
        """Clear the throttle and open the server-side session; returns its secret."""
        account, address = self._keys(request, name)
        now = self.clock.now()
        web_sessions.succeeded(self.db, clear=account, refund=[address], throttle=self.throttle, now=now)
        return web_sessions.open_session(self.db, viewer, now=now)

    def logout(self, session: Session | None) -> None:
        if session is not None and session.sid:
            web_sessions.close_session(self.db, session.sid, now=self.clock.now())
