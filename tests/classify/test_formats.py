"""Bounces, complaints and auto-replies in the formats RFCs and vendors publish
(tests/classify/samples/fmt_*.eml; SOURCES.md says where each format is described).

What matters to a rep: a bounce is never a reply, it names the address that failed (not
ours, not the daemon's, not a neighbour that was delivered), its severity only says hard
when the address is gone, a complaint names the complainant, and each carries the bounced
touch's Message-ID for the trust rule.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sequencer.classify import classify

SAMPLES = Path(__file__).parent / "samples"
OWN = {"sam@rep.example"}

# file -> kind, severity, recipients (complainant for complaints), returned Message-ID
TABLE: dict[str, tuple[str, str | None, tuple[str, ...], str | None]] = {
    "fmt_rfc3464_multi.eml": (
        "bounce",
        "hard",
        ("louisa@dbc.example",),
        "<touch.3464.multi@rep.example>",
    ),
    "fmt_rfc3464_delayed.eml": (
        "bounce",
        "soft",
        ("slow@litware.example",),
        "<touch.3464.delay@rep.example>",
    ),
    "fmt_rfc5965_arf.eml": (
        "complaint",
        None,
        ("pat.prospect@mailbox-provider.example",),
        "<touch.5965.arf@rep.example>",
    ),
    "fmt_arf_headers_only.eml": (
        "complaint",
        None,
        ("lee.buyer@isp.example",),
        "<touch.arf.headers@rep.example>",
    ),
    "fmt_rfc3834_autoreply.eml": ("auto_reply", None, (), None),
    "fmt_o365_no_dsn.eml": (
        "bounce",
        "hard",
        ("ana.left@northwind.example",),
        "<touch.o365.nodsn@rep.example>",
    ),
    "fmt_exchange2007_delayed.eml": (
        "bounce",
        "soft",
        ("rob.slow@contoso.example",),
        "<touch.ex2007.delay@rep.example>",
    ),
    "fmt_domino.eml": (
        "bounce",
        "hard",
        ("hans.gone@fabrikam.example",),
        "<touch.domino.1@rep.example>",
    ),
    "fmt_yahoo.eml": (
        "bounce",
        "hard",
        ("pat.gone@yahoo-mail.example",),
        "<touch.yahoo.1@rep.example>",
    ),
    "fmt_gmail_legacy.eml": (
        "bounce",
        "hard",
        ("lin.nobody@gmail-like.example",),
        "<touch.gmail.legacy@rep.example>",
    ),
    "fmt_sendmail_plain.eml": (
        "bounce",
        "hard",
        ("eve.unknown@wingtip.example",),
        "<touch.sendmail.plain@rep.example>",
    ),
    "fmt_sendmail_warning_plain.eml": (
        "bounce",
        "soft",
        ("max.later@wingtip.example",),
        "<touch.sendmail.warn@rep.example>",
    ),
    "fmt_qmail_mailbox_full.eml": (
        "bounce",
        "soft",
        ("bo.full@tailspin.example",),
        "<touch.qmail.full@rep.example>",
    ),
    "fmt_jp_carrier.eml": (
        "bounce",
        "hard",
        ("taro.unknown@mobile-carrier.example",),
        "<touch.jp.1@rep.example>",
    ),
    "fmt_rfc822_headers_no_dsn.eml": (
        "bounce",
        "hard",
        ("ivy.nope@adventure-works.example",),
        "<touch.appliance.1@rep.example>",
    ),
    "fmt_null_sender_isp_notice.eml": (
        "bounce",
        "hard",
        ("joe.bad@small-isp.example",),
        "<touch.isp.1@rep.example>",
    ),
    "fmt_ses_bounce.eml": (
        "bounce",
        "hard",
        ("ses.gone@litware.example",),
        "<touch.ses.bounce@rep.example>",
    ),
    "fmt_ses_complaint.eml": (
        "complaint",
        None,
        ("angry@litware.example",),
        "<touch.ses.complaint@rep.example>",
    ),
    "fmt_sendgrid_events.eml": ("bounce", "hard", ("sg.gone@fabrikam.example",), None),
    "fmt_sendgrid_spamreport.eml": ("complaint", None, ("spam.click@fabrikam.example",), None),
    "fmt_mailgun_failed.eml": (
        "bounce",
        "hard",
        ("mg.gone@contoso.example",),
        "<touch.mailgun.1@rep.example>",
    ),
    "fmt_mailgun_temporary.eml": (
        "bounce",
        "soft",
        ("mg.gone@contoso.example",),
        "<touch.mailgun.1@rep.example>",
    ),
    "fmt_postmark_bounce.eml": ("bounce", "hard", ("pm.gone@northwind.example",), None),
    "fmt_postmark_spam.eml": ("complaint", None, ("pm.angry@northwind.example",), None),
}


def test_every_format_sample_is_in_the_table() -> None:
    assert sorted(p.name for p in SAMPLES.glob("fmt_*.eml")) == sorted(TABLE)


@pytest.mark.parametrize("name", sorted(TABLE), ids=[n.removesuffix(".eml") for n in sorted(TABLE)])
def test_format_sample(name: str) -> None:
    kind, severity, recipients, returned = TABLE[name]
    verdict = classify((SAMPLES / name).read_bytes(), own_addresses=OWN)
    assert (verdict.kind, verdict.severity, verdict.recipients) == (kind, severity, recipients), (
        verdict.reason
    )
    if returned is not None:
        assert verdict.returned_refs[0] == returned
        assert verdict.refs[0] == returned
    if kind == "complaint":
        assert verdict.complainant == recipients[0]
        assert verdict.feedback_type
    assert verdict.reason.startswith(verdict.rule)


def test_a_report_mixing_failures_and_a_success_keeps_every_line() -> None:
    verdict = classify((SAMPLES / "fmt_rfc3464_multi.eml").read_bytes(), own_addresses=OWN)
    lines = {r.address: (r.action, r.severity) for r in verdict.results}
    assert lines == {
        "louisa@dbc.example": ("failed", "hard"),
        "kim@big-co.example": ("failed", "soft"),  # 4.4.7 after 4xx answers: the address may work
        "carol@dbc.example": ("relayed", None),
    }
    assert verdict.failed == ("louisa@dbc.example", "kim@big-co.example")


def test_exchange_ndr_names_the_field_and_the_code() -> None:
    verdict = classify((SAMPLES / "fmt_o365_no_dsn.eml").read_bytes(), own_addresses=OWN)
    assert verdict.results[0].status == "5.1.10"
    assert "user_unknown" in verdict.reason


def test_a_delay_warning_is_never_hard() -> None:
    for name in (
        "fmt_rfc3464_delayed.eml",
        "fmt_exchange2007_delayed.eml",
        "fmt_sendmail_warning_plain.eml",
    ):
        verdict = classify((SAMPLES / name).read_bytes(), own_addresses=OWN)
        assert [r.action for r in verdict.results] == ["delayed"], name
        assert verdict.severity == "soft"


def test_classify_json_keeps_its_keys_and_adds_complaint_and_language(tmp_path: Path) -> None:
    import json

    from click.testing import CliRunner

    from sequencer.cli import main

    opt_out = tmp_path / "opt_out.eml"
    opt_out.write_bytes(
        b"From: Jean <jean@prospect.example>\r\nTo: sam@rep.example\r\nSubject: Re: Question\r\n"
        b"In-Reply-To: <touch.1@rep.example>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        + b"Merci de me retirer de votre liste de diffusion"
    )
    files = [
        str(SAMPLES / "fmt_rfc5965_arf.eml"),
        str(SAMPLES / "fmt_rfc3464_multi.eml"),
        str(opt_out),
    ]
    result = CliRunner().invoke(main, ["classify", *files, "--json"])
    assert result.exit_code == 0, result.output
    complaint, bounce, unsubscribe = json.loads(result.output)
    for item in (complaint, bounce, unsubscribe):
        assert {"kind", "severity", "recipients", "refs", "reason", "language"} <= set(item)
    assert (complaint["kind"], complaint["complainant"]) == (
        "complaint",
        "pat.prospect@mailbox-provider.example",
    )
    assert complaint["reason"].startswith("feedback report: Feedback-Type: abuse")
    assert bounce["kind"] == "bounce" and "Status: 5.1.1" in bounce["reason"]
    assert [d["action"] for d in bounce["dsn"]] == ["failed", "failed", "relayed"]
    assert (unsubscribe["kind"], unsubscribe["language"]) == ("unsubscribe", "fr")
    assert "fr phrase" in unsubscribe["reason"]


@pytest.mark.parametrize("feedback", ["not-spam", "auth-failure", "virus"])
def test_feedback_reports_where_no_one_complained_stop_nothing(feedback: str) -> None:
    raw = (
        (SAMPLES / "fmt_rfc5965_arf.eml")
        .read_bytes()
        .replace(b"Feedback-Type: abuse", b"Feedback-Type: " + feedback.encode())
    )
    verdict = classify(raw, own_addresses=OWN)
    assert (verdict.kind, verdict.complainant) == ("unrelated", None), verdict.reason


@pytest.mark.parametrize(
    "subject",
    [
        "Unzustellbar: Quick question",
        "No se puede entregar: Quick question",
        "Não é possível entregar: Quick question",
        "Kan inte levereras: Quick question",
        "Kan ikke leveres: Quick question",
        "Ei voi toimittaa: Quick question",
        "Nie można dostarczyć: Quick question",
        "Onbestelbaar: Quick question",
        "Non recapitabile: Quick question",
        "Non remis : Quick question",
        "配信不能: Quick question",
        "无法送达: Quick question",
    ],
)
def test_localized_exchange_ndr_subjects_are_bounces(subject: str) -> None:
    raw = (
        f"From: Microsoft Outlook <postmaster@tenant.example>\r\nTo: sam@rep.example\r\n"
        f"Subject: {subject}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        "gone.person@tenant.example\r\nRemote Server returned '550 5.1.1 RESOLVER.ADR.RecipNotFound'\r\n"
    ).encode()
    verdict = classify(raw, own_addresses=OWN)
    assert (verdict.kind, verdict.recipients) == ("bounce", ("gone.person@tenant.example",)), (
        verdict.reason
    )
