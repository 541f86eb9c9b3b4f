"""Whether a bounce or complaint may act on the prospect it names (phase 2 of the poller).

Anyone who knows a prospect's address can send a delivery report or a "complaint" about
them; obeying it would stop and suppress a live lead for ever. So one acts only when it
carries the Message-ID of a touch WE SENT TO THAT PROSPECT: in the returned message's
headers or text (``returned_refs``), in its own threading headers (``thread_refs``), or in
the refs the classifier kept. Anything else is recorded ``untrusted``, acts on nobody, and
waits for a person (``sequencer inbound confirm|reject``). A DMARC failure recorded by our
receiving server holds even a referencing one for review: its sender could be forged.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from sequencer.db import inbound as q
from sequencer.db.models import Enrollment, InboundMessage
from sequencer.inbound.attribution import Lookups, evidence

TRUST_KINDS = ("bounce", "complaint")  # the kinds that stop and suppress for ever
TRUSTED, UNTRUSTED, CONFIRMED, REJECTED = "trusted", "untrusted", "confirmed", "rejected"


def decide(
    s: Session, row: InboundMessage, enrollment: Enrollment, lookups: Lookups | None = None
) -> tuple[str, str]:
    """(trusted|untrusted, why): does the message ref a touch we sent to this prospect?

    ``lookups``: the apply batch's prefetched answers (the same, without a query each).
    """
    refs = evidence(row)
    ours = (
        lookups.sent_to_prospect(enrollment.prospect_id, refs)
        if lookups
        else q.touch_ids_sent_to_prospect(s, enrollment.prospect_id, refs)
    )
    dmarc = ((row.details or {}).get("dmarc") or "").lower()
    if not ours:
        return UNTRUSTED, "carries no Message-ID of a touch we sent to this prospect"
    if dmarc == "fail":
        return UNTRUSTED, f"refers to {ours[0]} but Authentication-Results says dmarc=fail"
    return TRUSTED, f"refers to our touch {ours[0]}"


__all__ = ["CONFIRMED", "REJECTED", "TRUSTED", "TRUST_KINDS", "UNTRUSTED", "decide", "evidence"]
