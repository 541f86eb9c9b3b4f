"""The lead page's "Reply intent" form and the "Coming back" page.

A correction goes through ``people.intent_correct`` (the same function as ``sequencer
intent``), so it re-plans the effects and is kept as an ``intent_corrected`` event with
the logged-in user as actor. The form names the enrollment whose reply it corrects: a
rep may only correct their own (anyone else's is a 404, as for every lead-page action),
and a reply that arrived after the page was drawn is not corrected blindly.

The Coming back page shows the report's ``coming_back`` figures (``sequencer report``,
one definition: ``reporting.intents.coming_back``), per month with the leads behind
each month one click away on the Leads page (``coming_back=YYYY-MM``).
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from sequencer.errors import UserError
from sequencer.people import intent_correct
from sequencer.reporting import intents as intent_reads
from sequencer.web.filters import Filters

log = logging.getLogger(__name__)


def _day(value: str) -> date | None:
    value = value.strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UserError(f"come back on {value[:20]!r}: use a date like 2027-03-01") from None


class IntentPages:
    def __init__(self, dash: Any) -> None:
        """``dash``: the ``web.dashboard.Dashboard`` (render, back, gate, clock; not imported: no cycle)."""
        self.dash = dash

    async def correct(self, request: Request) -> Response:
        """POST /actions/intent: email, enrollment_id, intent, optional on (YYYY-MM-DD)."""
        form = request.state.form
        email = form.get("email", "")
        raw_id = form.get("enrollment_id", "")
        if not raw_id.isdigit():
            raise UserError("the form names no enrollment")
        eid = int(raw_id)
        intent = (form.get("intent") or "").strip().lower()
        on = _day(form.get("on") or "")
        await run_in_threadpool(self.dash.gate.check_prospect, request, email)
        await run_in_threadpool(self.dash.gate.check_enrollment, request, eid)  # a rep: own leads only
        now, actor = self.dash.clock.now(), self.dash.actor(request)
        done = await run_in_threadpool(
            lambda: intent_correct.correct_in_project(
                self.dash.db, self.dash.config, email, intent, on=on, actor=actor, now=now, enrollment_id=eid
            )
        )
        self.dash.cache.clear()
        log.info("dashboard intent correction on enrollment %s by %s", eid, actor)
        notice = f"{done.email}: intent {done.previous or 'none'} -> {done.intent or 'none'}"
        if done.plan:
            notice += "; " + "; ".join(done.plan)
        return self.dash.back(request, f"/leads/{quote(done.email, safe='@')}", notice=notice[:900])

    async def coming_back(self, request: Request, *, partial: bool = False) -> Response:
        f = self.dash.gate.scoped(request, Filters.parse(request.query_params))
        since, _ = f.instants(self.dash.clock.now())
        data = await run_in_threadpool(
            self.dash.cache.get, ("coming_back", f, ()),
            lambda: intent_reads.coming_back(self.dash.db, sequence=f.sequence, owner=f.rep, since=since),
        )
        reengage = self.dash.config.reengage.sequence
        return self.dash.render(
            request, "coming_back_body.html" if partial else "page.html", page="coming_back",
            body="coming_back_body.html", data=data, f=f, reps=self.dash._reps(None),
            sequences=[reengage] if reengage else [], mailboxes=[],
        )  # fmt: skip

    async def coming_back_partial(self, request: Request) -> Response:
        return await self.coming_back(request, partial=True)


__all__ = ["IntentPages"]
