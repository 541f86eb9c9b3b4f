"""``/leads``: search, filter, sort and page the leads; CSV of what is shown; bulk actions.

Every count on the home, pipeline, reps and sequence pages links here with the filter
that produces it (``leads_url``). A bulk action is two POSTs, each with the session's
CSRF token (checked by the dashboard's guard): the first shows what will happen to
which leads, the second (``confirm=1``) does it, one lead at a time through the same
services as the lead page's buttons, and comes back to the list with what was done.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import asdict, replace
from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from sequencer.errors import NotFound, SequencerError, UserError
from sequencer.people import handling, state_changes
from sequencer.reporting import leads as reads
from sequencer.reporting.leads import SORTS, LeadQuery

log = logging.getLogger(__name__)
ACTIONS = ("pause", "resume", "stop", "reassign")
MAX_BULK = 500
STAGES = ("new", "contacted", "replied", "meeting", "proposal", "won", "lost")
_MONTH = re.compile(r"(19\d\d|2[01]\d\d)-(0[1-9]|1[0-2])")
STATUSES = ("active", "paused", "replied", "bounced", "unsubscribed", "completed", "stopped", "failed")


def parse_query(params: Mapping[str, str]) -> LeadQuery:
    def text(key: str, limit: int = 100) -> str | None:
        value = (params.get(key) or "").strip()
        if len(value) > limit:
            raise UserError(f"filter {key} is longer than {limit} characters")
        return value or None

    def flag(key: str) -> bool:
        return (params.get(key) or "") in ("1", "true", "yes", "on")

    page = text("page") or "1"
    if not page.isdigit() or int(page) < 1:
        raise UserError("page must be a positive number")
    sort = text("sort") or "email"
    if sort not in SORTS:
        raise UserError(f"sort by one of {', '.join(SORTS)}")
    stage = text("stage")
    if stage and stage not in STAGES:
        raise UserError(f"stage is one of {', '.join(STAGES)}")
    month = text("coming_back")
    if month and month != "unscheduled" and not _MONTH.fullmatch(month):
        raise UserError("coming_back is a month like 2027-03 (or unscheduled)")
    return LeadQuery(
        q=text("q", 200), stage=stage, rep=text("rep"), sequence=text("sequence"), status=text("status"),
        rotting=flag("rotting"), waiting=flag("waiting"), coming_back=month, sort=sort, desc=flag("desc"),
        page=int(page), per_page=reads.PER_PAGE,
    )  # fmt: skip


def query_string(q: LeadQuery, **override: Any) -> str:
    values = {**asdict(q), **override}
    values.pop("per_page", None)
    pairs = []
    for k, v in values.items():
        if v in (None, "", False) or (k == "page" and v == 1) or (k == "sort" and v == "email"):
            continue
        pairs.append((k, "1" if v is True else str(v)))
    return "?" + urlencode(pairs) if pairs else ""


def leads_url(**filters: Any) -> str:
    """The Leads page showing the leads behind a figure: ``leads_url(stage="proposal", rotting=1)``."""
    pairs = [(k, "1" if v is True else str(v)) for k, v in filters.items() if v not in (None, "", False)]
    return "/leads" + ("?" + urlencode(pairs) if pairs else "")


def _ids(form: Mapping[str, str]) -> list[int]:
    """Checked leads arrive as ``e<enrollment id>=1`` (the guard keeps one value per name)."""
    ids = sorted({int(k[1:]) for k, v in form.items() if k[:1] == "e" and k[1:].isdigit() and v})
    if not ids:
        raise UserError("select at least one lead")
    if len(ids) > MAX_BULK:
        raise UserError(f"at most {MAX_BULK} leads at once")
    return ids


class LeadsPages:
    def __init__(self, dash: Any) -> None:
        """``dash``: the ``web.dashboard.Dashboard`` (render, back, cache, clock; not imported: no cycle)."""
        self.dash = dash

    async def page(self, request: Request, *, partial: bool = False) -> Response:
        from sequencer.web.filters import Filters

        q = self._scoped(request)
        result = await run_in_threadpool(reads.find, self.dash.db, self.dash.config, q, now=self.dash.clock.now())
        return self.dash.render(
            request, "leads_body.html" if partial else "page.html", page="leads", body="leads_body.html",
            data=result, q=q, qs=lambda **o: query_string(q, **o), f=Filters(rep=q.rep, sequence=q.sequence),
            stages=STAGES, statuses=STATUSES, sorts=list(SORTS), owners=handling.known_reps(self.dash.config),
            reps=handling.known_reps(self.dash.config), sequences=[], mailboxes=[],
        )  # fmt: skip

    def _scoped(self, request: Request) -> LeadQuery:
        """The query from the URL; a rep's is pinned to their own leads, as every page's is."""
        q = parse_query(request.query_params)
        viewer = self.dash.gate.viewer(request)
        if viewer is not None and viewer.owner is not None:
            q = replace(q, rep=viewer.owner)
        return q

    def _check_all(self, request: Request, ids: list[int]) -> None:
        """A rep may only act on their own leads: another rep's id is a 404, as on the lead page."""
        for eid in ids:
            self.dash.gate.check_enrollment(request, eid)

    async def partial(self, request: Request) -> Response:
        return await self.page(request, partial=True)

    async def csv(self, request: Request) -> Response:
        """Exactly the rows the page shows for the same URL (this page of the same filters and sort)."""
        q = self._scoped(request)
        result = await run_in_threadpool(reads.find, self.dash.db, self.dash.config, q, now=self.dash.clock.now())
        stamp = self.dash.clock.now().strftime("%Y%m%d-%H%M")
        return Response(
            reads.rows_csv(result.rows), media_type="text/csv; charset=utf-8",
            headers={"content-disposition": f'attachment; filename="sequencer-leads-{stamp}.csv"'},
        )  # fmt: skip

    async def bulk(self, request: Request) -> Response:
        form = request.state.form
        action = form.get("action", "")
        if action not in ACTIONS:
            raise UserError(f"choose an action: {', '.join(ACTIONS)}")
        ids = _ids(form)
        owner = (form.get("owner") or "").strip()
        reason = " ".join((form.get("reason") or "").split()) or None
        if action == "reassign" and not owner:
            raise UserError("reassign: choose the rep")
        if action == "pause" and not reason:
            raise UserError("pause: give a reason (it is shown on each lead's timeline)")
        await run_in_threadpool(self._check_all, request, ids)
        if form.get("confirm") != "1":
            plan = await run_in_threadpool(self._plan, action, ids, owner, reason)
            return self.dash.render(
                request, "page.html", page="leads_confirm", body="leads_confirm.html",
                data=None, f=None, plan=plan, action=action, ids=ids, owner=owner, reason=reason or "",
                back=form.get("next") or "/leads",
            )  # fmt: skip
        done, failed = await run_in_threadpool(self._do, action, ids, owner, reason, self.dash.actor(request))
        self.dash.cache.clear()
        log.info("dashboard bulk %s on %d leads by %s", action, len(ids), self.dash.actor(request))
        notice = f"{action}: {done} done" + (f"; not done: {'; '.join(failed[:5])}" if failed else "")
        return self.dash.back(request, "/leads", notice=notice)

    async def stage(self, request: Request) -> Response:
        """The lead page's "Deal stage" form: a hand move, recorded with the manager as actor."""
        from urllib.parse import quote

        from sequencer.people import stages

        form = request.state.form
        email, stage = form.get("email", ""), form.get("stage", "")
        now, actor = self.dash.clock.now(), self.dash.actor(request)
        await run_in_threadpool(self.dash.gate.check_prospect, request, email)  # a rep: own leads only
        moved, before = await run_in_threadpool(
            lambda: stages.move_by_email(self.dash.db, email, stage, actor=actor, now=now, note=form.get("note"))
        )
        self.dash.cache.clear()
        notice = f"{email}: stage {before} -> {moved}" if before else f"{email} is already {moved}"
        return self.dash.back(request, f"/leads/{quote(email, safe='@')}", notice=notice)

    def _plan(self, action: str, ids: list[int], owner: str, reason: str | None) -> list[str]:
        """One line per lead: what the action will do to it (nothing is written)."""
        named = reads.named(self.dash.db, ids)
        if len(named) != len(ids):
            raise NotFound("some of the selected leads no longer exist; reload the list")
        lines = []
        for n in named:
            if action == "reassign":
                lines.append(state_changes.reassign_preview(self.dash.db, n.enrollment_id, owner).consequences)
            elif action == "pause":
                lines.append(f"{n.email} ({n.sequence_id}): " + (
                    f"paused ({reason}); no touch goes out until resumed" if n.status == "active"
                    else f"left as it is ({n.status}, only active leads are paused)"))
            elif action == "resume":
                lines.append(f"{n.email} ({n.sequence_id}): " + (
                    "resumed; the next touch is rescheduled into its send window" if n.status == "paused"
                    else f"left as it is ({n.status}, only paused leads are resumed)"))
            else:
                lines.append(f"{n.email} ({n.sequence_id}): " + (
                    "stopped for good; no further touch, counted as finished"
                    if n.status in ("active", "paused") else f"left as it is ({n.status})"))
        return lines

    def _do(self, action: str, ids: list[int], owner: str, reason: str | None, actor: str) -> tuple[int, list[str]]:
        db, config, now = self.dash.db, self.dash.config, self.dash.clock.now()
        done, failed = 0, []
        for n in reads.named(db, ids):
            try:
                if action == "reassign":
                    handling.reassign(db, config, n.enrollment_id, owner=owner, now=now, actor=actor)
                elif action == "pause":
                    if n.status != "active":
                        continue
                    handling.pause(db, n.enrollment_id, reason=reason, now=now, actor=actor)
                elif action == "resume":
                    if n.status != "paused":
                        continue
                    handling.resume(db, config, n.enrollment_id, reason=reason, now=now, actor=actor)
                else:
                    if n.status not in ("active", "paused"):
                        continue
                    state_changes.stop(db, email=n.email, sequence_id=n.sequence_id,
                                       reason=reason or f"stopped by {actor}", now=now, actor=actor)
                done += 1
            except SequencerError as exc:
                failed.append(f"{n.email}: {exc}")
        return done, failed


__all__ = ["ACTIONS", "LeadsPages", "leads_url", "parse_query", "query_string"]
