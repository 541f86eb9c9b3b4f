"""`sequencer report` and `sequencer digest`: the manager's view, printed, saved or mailed."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import click

from sequencer.cli.base import App, main, parse_when, pass_app
from sequencer.reporting.model import CSV_TABLES, Figures, Report, format_money
from sequencer.reporting.report import build_report


def _table(title: str, columns: list[str], rows: list[list[Any]]) -> Any:
    from rich.table import Table

    table = Table(title=title, title_justify="left", header_style="bold")
    for i, col in enumerate(columns):
        table.add_column(col, justify="left" if i == 0 else "right", no_wrap=i == 0)
    for row in rows:
        table.add_row(*("–" if v is None else str(v) for v in row))
    return table


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{v * 100:.1f}%"


def _h(v: float | None) -> str:
    return "–" if v is None else f"{v:.1f}h"


def _days(v: float | None) -> str:
    return "–" if v is None else f"{v:.1f}d"


def _minutes(v: float | None) -> str:
    return "–" if v is None else (f"{v:.0f} min" if v < 120 else f"{v / 60:.1f}h")


def _figure_rows(figs: list[Figures], label: Any) -> list[list[Any]]:
    return [
        [label(f), f.enrolled, f.active, f.paused, f.replied, f.bounced, f.unsubscribed, f.completed,
         f.stopped, f.failed, _pct(f.reply_rate), _pct(f.bounce_rate), _h(f.time_to_reply.median_hours),
         _h(f.time_to_reply.p90_hours), "/".join(map(str, f.replies_by_touch))]
        for f in figs
    ]


FIGURE_COLUMNS = ["", "enrolled", "active", "paused", "replied", "bounced", "unsub", "completed",
                  "stopped", "failed", "reply rate", "bounce rate", "median reply", "p90 reply",
                  "replies by touch"]


def render_tables(report: Report, console: Any) -> None:
    """The report as rich tables, in the order a manager reads it; the safety check last."""
    r = report
    seq_label = lambda f: f.sequence_name or f.sequence_id  # noqa: E731
    console.print(f"[bold]Sequence report[/bold] as of {r.generated_at:%Y-%m-%d %H:%M} UTC")
    h = r.headline
    console.print(
        f"{h.unanswered} replies waiting for an answer ({h.sla_breaches} over the SLA), {h.stalled} stalled, "
        f"{h.tasks_overdue} rep tasks overdue, {h.rotting} rotting, value at risk {format_money(h.value_at_risk)}"
    )
    console.print(_table("Sequences", ["sequence", *FIGURE_COLUMNS[1:]],
                         [*_figure_rows(r.sequences, seq_label), *_figure_rows([r.totals], lambda f: "ALL")]))
    console.print(_table("Reps", ["rep", *FIGURE_COLUMNS[1:]], _figure_rows(r.reps, lambda f: f.owner or "(none)")))
    console.print(_table("Sequence x rep", ["sequence / rep", *FIGURE_COLUMNS[1:]],
                         _figure_rows(r.sequence_reps, lambda f: f"{f.sequence_id} / {f.owner or '(none)'}")))
    if r.variants:
        console.print(_table("A/B variants", ["sequence", "step", "variant", "sent", "replies", "reply rate"],
                             [[v.sequence_id, v.step, v.variant, v.sent, v.replies, _pct(v.reply_rate)] for v in r.variants]))
        for st in r.steps:
            console.print(f"{st.sequence_id} step {st.step}: {st.verdict}")
    a = r.aging
    console.print(_table(f"Aging of {a.active} active enrollments", ["days since last touch", "count"],
                         [[b.label, b.count] for b in a.since_last_touch]))
    console.print(_table("Next touch", ["due in", "count"], [[b.label, b.count] for b in a.until_next_touch]))
    console.print(_table(f"Overdue {a.overdue}, stalled {a.stalled} (> {a.stalled_after_days} days)",
                         ["why it waits", "overdue", "stalled"],
                         [[o.reason, o.overdue, o.stalled] for o in a.overdue_by_reason]))
    if a.stalled_leads:
        console.print(_table("Stalled leads", ["prospect", "rep", "sequence", "touch", "overdue", "why"],
                             [[lead.email, lead.owner, lead.sequence_id, lead.step, _h(lead.age_hours), lead.wait_reason]
                              for lead in a.stalled_leads]))
    rp = r.replies
    console.print(
        f"Replies: {rp.total}, answered {rp.answered} (median {_h(rp.time_to_answer.median_hours)}, "
        f"p90 {_h(rp.time_to_answer.p90_hours)}), unanswered {rp.unanswered}, "
        f"past the {rp.sla_hours}h target {rp.sla_breaches}"
    )
    if rp.unanswered_replies:
        console.print(_table("Unanswered replies", ["prospect", "rep", "sequence", "touch", "waiting", "deal", "SLA"],
                             [[lead.email, lead.owner, lead.sequence_id, lead.step, _h(lead.age_hours), lead.deal_value,
                               "breached" if lead.sla_breached else "ok"] for lead in rp.unanswered_replies]))
    console.print(_table("Deal stages", ["stage", "prospects", "value", "median in stage", "p90 in stage",
                                          "on to the next", "rotting"],
                         [[st.stage, st.prospects, format_money(st.value), _days(st.median_days), _days(st.p90_days),
                           _pct(st.conversion), st.rotting] for st in r.stages]))
    if r.rotting_leads:
        console.print(_table("Deals rotting", ["prospect", "rep", "stage", "in stage", "allowed", "deal"],
                             [[x.email, x.owner, x.stage, _days(x.days_in_stage), _days(x.rotting_after_days),
                               x.deal_value] for x in r.rotting_leads]))
    if r.intents:
        console.print(_table("Replies by intent", ["sequence", "touch", "rep", "intent", "replies"],
                             [[x.sequence, x.step, x.owner, x.intent, x.replies] for x in r.intents]))
    if r.coming_back:
        console.print(_table("Coming back (not now)", ["month", "leads", "value"],
                             [[x.month, x.leads, format_money(x.value)] for x in r.coming_back]))
    console.print(_table("Pipeline value", ["state", "prospects", "value"],
                         [[p.label, p.prospects, format_money(p.value)] for p in r.pipeline]))
    t = r.tasks
    if t.open or t.at_risk:
        console.print(f"Rep tasks: {t.open} open, {t.overdue} overdue, {t.at_risk} past the {t.sla_hours:g}h target")
        if t.at_risk_items:
            console.print(_table("Tasks at risk", ["prospect", "rep", "sequence", "step", "overdue", "task"],
                                 [[lead.email, lead.owner, lead.sequence_id, lead.step, _h(lead.age_hours),
                                   lead.wait_reason] for lead in t.at_risk_items]))
    sp = r.speed_to_lead
    if sp.leads or sp.unusable:
        console.print(
            f"Speed to lead: {sp.leads} inbound leads, {sp.responded} answered (median "
            f"{_minutes(sp.median_minutes)}, p90 {_minutes(sp.p90_minutes)}), {sp.waiting} waiting, "
            f"{sp.unusable} without a usable address"
        )
        if sp.per_rep:
            console.print(_table("Speed to lead by rep", ["rep", "leads", "answered", "median", "p90"],
                                 [[x.owner, x.leads, x.responded, _minutes(x.median_minutes),
                                   _minutes(x.p90_minutes)] for x in sp.per_rep]))
    act = r.activity
    console.print(f"Activity {act.start:%Y-%m-%d %H:%M} – {act.end:%Y-%m-%d %H:%M} UTC: {act.enrolled} enrolled, "
                  f"{act.touches_sent} touches, {act.replies} replies, {act.answered} answered, {act.finished} finished")
    d = r.deliverability
    console.print(f"Deliverability: {d.complaints} spam complaints ({d.complaints_in_window} in the window), "
                  f"{d.awaiting_review} bounces/complaints awaiting review"
                  + (f" ({d.review_command})" if d.awaiting_review else ""))
    if r.safety.ok:
        console.print("[green]Lead safety check: ok[/green] (every enrollment scheduled, paused or finished with a reason)")
    else:
        console.print(f"[red]Lead safety check: {safety_line(r)}[/red]")
        console.print(_table("Violations", ["prospect", "rep", "sequence", "state", "problem"],
                             [[v.email, v.owner, v.sequence_id, v.status,
                               "active without a next touch" if v.status == "active" else "no reason recorded"]
                              for v in r.safety.items]))


def safety_line(report: Report) -> str:
    n = report.safety.violations
    return f"{n} lead-safety violation{'s' if n != 1 else ''}"


@main.command("report")
@click.option("--sequence", metavar="ID", help="Only this sequence.")
@click.option("--owner", metavar="REP", help="Only this rep's enrollments.")
@click.option("--since", metavar="DATE", help="Only enrollments enrolled on or after DATE (ISO, UTC).")
@click.option("--until", metavar="DATE", help="Only enrollments enrolled before DATE (ISO, UTC).")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv", "html"]), default="table",
              show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.option("--table", "csv_table", type=click.Choice(CSV_TABLES), default="figures", show_default=True,
              help="With --format csv: the figures table, the A/B variants or the headline figures.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write to FILE instead of stdout.")
@click.option("--check", is_flag=True, help="Exit 1 when the lead-safety check finds a violation (for monitoring).")
@pass_app
def report_cmd(app: App, sequence: str | None, owner: str | None, since: str | None, until: str | None, fmt: str,
               as_json: bool, csv_table: str, output: Path | None, check: bool) -> None:
    """Where every lead stands: per sequence and rep, aging, replies, pipeline value.

    Ends with the lead-safety check: every enrollment must be scheduled, paused
    with a reason, or finished with a reason.

    \b
    Example:
      sequencer report
      sequencer report --sequence quote-follow-up --owner alice --since 2026-03-01
      sequencer report --since 2026-03-01 --until 2026-04-01 --json
      sequencer report --format html --output report.html
      sequencer report --check --format json > /dev/null || alert "leads dropped"
    """
    report = build_report(app.db, app.config, now=app.clock.now(), sequence=sequence, owner=owner,
                          since=parse_when(since, "--since"), until=parse_when(until, "--until"))
    if as_json:
        fmt = "json"
    if fmt == "json":
        text = report.to_json() + "\n"
    elif fmt == "csv":
        text = report.to_csv(csv_table)
    elif fmt == "html":
        from sequencer.reporting.html import render_report_html

        text = render_report_html(report)
    else:
        text = None
    if text is not None:
        if output:
            output.write_text(text, encoding="utf-8")
        else:
            click.echo(text, nl=False)
    else:
        from rich.console import Console

        if output:
            with output.open("w", encoding="utf-8") as fh:
                render_tables(report, Console(file=fh, width=200, color_system=None))
        else:
            render_tables(report, Console(soft_wrap=False, width=None if sys.stdout.isatty() else 200))
    if check and report.headline.rotting:
        # Rotting deals are the manager's to chase, not a lost lead: listed, never a failed check.
        click.echo(f"warning: {report.headline.rotting} deal(s) rotting in their stage", err=True)
        for x in report.rotting_leads:
            click.echo(f"  {x.email} ({x.owner or 'no rep'}): {x.stage} for {x.days_in_stage:.1f} d, "
                       f"allowed {x.rotting_after_days:g} d", err=True)
    if check and not report.safety.ok:
        click.echo(f"error: {safety_line(report)}; see the report's last section", err=True)
        for v in report.safety.items:
            click.echo(f"  enrollment {v.enrollment_id} {v.email} ({v.sequence_id}, {v.status})", err=True)
        sys.exit(1)


@main.command("digest")
@click.option("--send", is_flag=True, help="Email it now (to reporting.managers, or --to).")
@click.option("--to", "to", multiple=True, metavar="ADDR", help="Recipient instead of the managers (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print day, subject, headline figures and text as JSON.")
@pass_app
def digest_cmd(app: App, send: bool, to: tuple[str, ...], as_json: bool) -> None:
    """The managers' daily digest; prints the text version unless --send.

    `sequencer run` sends it by itself at reporting.digest_time on business days.

    \b
    Example:
      sequencer digest
      sequencer digest --send
      sequencer digest --send --to me@example.com
    """
    from sequencer.reporting import digest

    now = app.clock.now()
    if as_json and not send:
        import json
        from dataclasses import asdict

        d = digest.build_digest(app.db, app.config, now=now)
        click.echo(json.dumps({"day": d.day.isoformat(), "subject": d.subject,
                               "headline": asdict(d.report.headline), "text": d.text}, indent=2, ensure_ascii=False))
        return
    if not send:
        click.echo(f"Subject: {(d := digest.build_digest(app.db, app.config, now=now)).subject}\n")
        click.echo(d.text, nl=False)
        return
    sent = asyncio.run(digest.send_digest(app.db, app.config, now=now, to=list(to) or None))
    rcpts = ", ".join(digest.recipients(app.config, list(to) or None))
    click.echo(f"digest for {sent.day} sent to {rcpts}")
