"""Sequence files: loading, threading rules, variants, and file:line for every mistake."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest

from sequencer.core.planning import render_step
from sequencer.core.schedule import BusinessCalendar, Wait
from sequencer.core.sequence_checks import (
    SAMPLE_MAILBOX,
    sample_problems,
    sequence_required_variables,
)
from sequencer.core.sequence_files import load_sequence, load_sequences
from sequencer.core.sequences import Sequence, choose_variant
from sequencer.core.template_context import build_context
from sequencer.core.templates import TemplateStore
from sequencer.errors import SequenceError

ROOT = Path(__file__).resolve().parents[2]
US = BusinessCalendar(country="US")


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dedent(text).lstrip("\n"), encoding="utf-8")
    return path


@pytest.fixture
def store(tmp_path: Path) -> TemplateStore:
    t = tmp_path / "templates"
    write(t / "q/first.txt", """
        ---
        subject: Quote for {{ company }}
        ---
        Hi {{ first_name | default("there") }}, here it is.
        """)
    write(t / "q/nosubject.txt", "Hi {{ first_name | default('there') }}, checking in.\n")
    write(t / "q/a.txt", "Variant A for {{ company }}\n")
    write(t / "q/b.txt", "Variant B\n")
    return TemplateStore(t)


GOOD = """
    name: Quote follow-up
    description: test
    timezone: America/Chicago
    list_unsubscribe: false
    send_window: {days: business, start: "08:30", end: "17:00"}
    policies: {on_auto_reply: pause 3 days, on_manual_email: stop}
    sample: {email: dana@example.com, name: Dana Whitfield, company: Acme}
    steps:
      - wait: 0
        template: q/nosubject
        subject: "Your quote for {{ company }}"
      - wait: 2 business days
        template: q/nosubject
      - wait: 3 business days
        new_thread: true
        subject: "New angle for {{ company }}"
        variants:
          - {template: q/a, weight: 70}
          - {template: q/b, weight: 30, name: short}
      - wait: 1 week
        template: q/nosubject
    """


def problems_of(exc: pytest.ExceptionInfo[SequenceError]) -> list[str]:
    return [str(p) for p in exc.value.problems]


def test_a_valid_sequence_loads_with_ids_numbers_and_threads(tmp_path: Path, store: TemplateStore) -> None:
    seq = load_sequence(write(tmp_path / "seqs/quote.yaml", GOOD), store)
    assert seq.id == "quote" and seq.name == "Quote follow-up" and seq.total_steps == 4
    assert [s.number for s in seq.steps] == [1, 2, 3, 4]
    assert seq.steps[1].wait == Wait(2, "business_days")
    assert not seq.list_unsubscribe and seq.timezone == "America/Chicago"
    assert seq.policies.auto_reply_pause == Wait(3, "days")
    assert seq.policies.on_manual_email == "stop"
    assert [s.starts_thread for s in seq.steps] == [True, False, True, False]
    assert seq.thread_start(seq.steps[1]).number == 1
    assert seq.thread_start(seq.steps[3]).number == 3
    assert [v.name for v in seq.steps[2].variants] == ["q/a", "short"]
    assert seq.steps[0].kind == "email"


def test_defaults_are_cold_outreach_friendly(tmp_path: Path) -> None:
    seq = load_sequence(write(tmp_path / "s.yaml", """
        name: Minimal
        steps:
          - {wait: 0, template: x, subject: Hello}
        """))
    assert seq.list_unsubscribe is True
    assert seq.mailbox == "owner"
    assert seq.policies.on_reply == "stop" and seq.policies.on_auto_reply == "continue"
    assert seq.policies.auto_reply_pause is None


def test_in_thread_steps_render_without_a_subject(tmp_path: Path, store: TemplateStore) -> None:
    seq = load_sequence(write(tmp_path / "quote.yaml", GOOD), store)
    ctx = build_context(seq.sample, SAMPLE_MAILBOX, seq, seq.steps[1], None, date(2025, 3, 6), US)
    first = render_step(store, seq, seq.steps[0], seq.steps[0].variants[0], ctx)
    second = render_step(store, seq, seq.steps[1], seq.steps[1].variants[0], ctx)
    assert first.subject == "Your quote for Acme"
    assert second.subject is None


def test_a_templates_own_subject_starts_the_thread_when_the_step_has_none(tmp_path: Path, store: TemplateStore) -> None:
    seq = load_sequence(write(tmp_path / "s.yaml", """
        name: S
        steps:
          - {wait: 0, template: q/first}
          - {wait: 1 day, template: q/first}
        """), store)
    ctx = build_context({"company": "Acme"}, SAMPLE_MAILBOX, seq, seq.steps[0], None, date(2025, 3, 6), US)
    assert render_step(store, seq, seq.steps[0], seq.steps[0].variants[0], ctx).subject == "Quote for Acme"
    # Step 2 replies in the thread: the template's subject is not used.
    assert render_step(store, seq, seq.steps[1], seq.steps[1].variants[0], ctx).subject is None


# --- every validation error path, with file:line --------------------------------------


def test_unknown_keys_are_reported_at_their_line(tmp_path: Path) -> None:
    path = write(tmp_path / "s.yaml", """
        name: S
        colour: blue
        steps:
          - wait: 0
            template: x
            subject: Hi
            tempalte: y
        """)
    with pytest.raises(SequenceError) as exc:
        load_sequence(path)
    assert problems_of(exc) == [
        f"{path}:2: (top level): unknown key 'colour'",
        f"{path}:7: step 1: unknown key 'tempalte' (did you mean 'template'?)",
    ]


def test_all_problems_in_a_file_are_reported_together(tmp_path: Path) -> None:
    path = write(tmp_path / "s.yaml", """
        name: S
        timezone: Mars/Olympus
        policies: {on_auto_reply: sulk}
        send_window: {days: business, start: "18:00", end: "09:00"}
        steps:
          - wait: two days
            template: x
            subject: Hi
          - wait: 1 day
          - wait: 1 day
            template: x
            variants: [{template: y}]
          - wait: 1 day
            template: x
            subject: Changed subject
        """)
    with pytest.raises(SequenceError) as exc:
        load_sequence(path)
    got = problems_of(exc)
    expected_fragments = [
        (2, "timezone: unknown time zone 'Mars/Olympus'"),
        (3, "policies.on_auto_reply: on_auto_reply must be 'continue' or like 'pause 3 days'"),
        (4, "send_window: send window start 18:00 must be before its end 09:00"),
        (6, "step 1.wait: cannot read wait 'two days'"),
        (9, "step 2: missing required key 'template' (or 'variants')"),
        (10, "step 3: give either template or variants, not both"),
        (15, "step 4: step 4 replies in the thread"),
    ]
    assert len(got) == len(expected_fragments), got
    for (line, fragment), message in zip(expected_fragments, got, strict=True):
        assert message.startswith(f"{path}:{line}: "), message
        assert fragment in message, message
    assert "Value error" not in str(exc.value)


@pytest.mark.parametrize(
    ("body", "line", "fragment"),
    [
        ("steps: []\n", 1, "missing required key 'name'"),
        ("name: S\nsteps: []\n", 2, "steps: List should have at least 1 item"),
        ("name: S\nname: T\nsteps: [{wait: 0, template: x, subject: s}]\n", 2, "duplicate key 'name'"),
        ("name: S\nsteps:\n  - wait: 0\n    template: x\n    subject: s\n    kind: task\n", 6, "step 1.kind"),
        ("name: S\nsteps:\n  - just a string\n", 3, "step 1: a step must be a mapping"),
        ("name: S\nsteps:\n  - wait: 0\n    template: x: y\n", 4, "invalid YAML"),
        ("- a list\n", 1, "a sequence file must be a mapping"),
        (
            "name: S\nsteps:\n  - wait: 0\n    subject: s\n    variants:\n      - {template: a}\n      - {template: a}\n",
            7, "variant name 'a' is used twice",
        ),
        (
            "name: S\nsteps:\n  - wait: 0\n    subject: s\n    variants:\n      - {template: a, weight: 0}\n",
            6, "step 1.variant 1.weight",
        ),
        (
            "name: S\nsteps:\n  - {wait: 0, template: a, subject: s}\n  - wait: 1 day\n    variants:\n"
            "      - {template: a, subject: other}\n",
            6, "a variant of an in-thread step cannot have a subject",
        ),
    ],
)
def test_each_mistake_points_at_its_line(tmp_path: Path, body: str, line: int, fragment: str) -> None:
    path = write(tmp_path / "s.yaml", body)
    with pytest.raises(SequenceError) as exc:
        load_sequence(path)
    assert any(m.startswith(f"{path}:{line}: ") and fragment in m for m in problems_of(exc)), problems_of(exc)


def test_step_one_needs_a_subject_from_step_or_template(tmp_path: Path, store: TemplateStore) -> None:
    path = write(tmp_path / "s.yaml", """
        name: S
        steps:
          - wait: 0
            template: q/nosubject
          - wait: 1 day
            new_thread: true
            template: q/nosubject
        """)
    with pytest.raises(SequenceError) as exc:
        load_sequence(path, store)
    got = problems_of(exc)
    assert got[0].startswith(f"{path}:4: ") and "step 1 starts the thread but there is no subject" in got[0]
    assert got[1].startswith(f"{path}:7: ") and "step 2: new_thread is true but there is no subject" in got[1]


def test_missing_template_is_reported_at_the_template_key(tmp_path: Path, store: TemplateStore) -> None:
    path = write(tmp_path / "s.yaml", """
        name: S
        steps:
          - wait: 0
            subject: Hi
            template: q/does-not-exist
        """)
    with pytest.raises(SequenceError) as exc:
        load_sequence(path, store)
    (message,) = problems_of(exc)
    assert message.startswith(f"{path}:5: ") and "template 'q/does-not-exist' not found" in message


def test_a_template_syntax_error_points_into_the_template_file(tmp_path: Path, store: TemplateStore) -> None:
    write(store.directory / "q/broken.txt", "---\nsubject: Hi\n---\nline 4\n{% if x %}never closed\n")
    path = write(tmp_path / "s.yaml", "name: S\nsteps:\n  - {wait: 0, template: q/broken}\n")
    with pytest.raises(SequenceError) as exc:
        load_sequence(path, store)
    (message,) = problems_of(exc)
    assert message.startswith(f"{store.directory / 'q/broken.txt'}:") and "syntax error" in message


def test_unknown_mailbox_is_reported_when_mailboxes_are_known(tmp_path: Path) -> None:
    path = write(tmp_path / "s.yaml", "name: S\nmailbox: dana\nsteps:\n  - {wait: 0, template: x, subject: s}\n")
    with pytest.raises(SequenceError) as exc:
        load_sequence(path, mailboxes={"sam", "lee"})
    assert problems_of(exc) == [f"{path}:2: mailbox: unknown mailbox 'dana' (known: lee, sam; or 'owner')"]
    assert load_sequence(path, mailboxes={"dana"}).mailbox == "dana"


def test_load_sequences_collects_problems_across_files(tmp_path: Path) -> None:
    d = tmp_path / "seqs"
    write(d / "good.yaml", "name: Good\nsteps:\n  - {wait: 0, template: x, subject: s}\n")
    write(d / "bad1.yaml", "name: Bad\nsteps:\n  - {wait: soon, template: x, subject: s}\n")
    write(d / "bad2.yml", "steps:\n  - {wait: 0, template: x, subject: s}\n")
    write(d / "notes.txt", "not a sequence")
    with pytest.raises(SequenceError) as exc:
        load_sequences(d)
    got = problems_of(exc)
    assert len(got) == 2
    assert got[0].startswith(f"{d / 'bad1.yaml'}:3: ") and got[1].startswith(f"{d / 'bad2.yml'}:1: ")
    (d / "bad1.yaml").unlink()
    (d / "bad2.yml").unlink()
    assert list(load_sequences(d)) == ["good"]


def test_missing_file_and_directory_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(SequenceError, match="file not found"):
        load_sequence(tmp_path / "nope.yaml")
    with pytest.raises(SequenceError, match="sequences directory not found"):
        load_sequences(tmp_path / "nope")


# --- variants --------------------------------------------------------------------------


def test_variant_choice_is_deterministic_and_follows_weights(tmp_path: Path) -> None:
    seq = load_sequence(write(tmp_path / "s.yaml", GOOD))
    step = seq.steps[2]
    assert choose_variant(step, "enrollment-42") == choose_variant(step, "enrollment-42")
    counts = Counter(choose_variant(step, f"token-{i}").name for i in range(10_000))
    assert 6700 < counts["q/a"] < 7300 and 2700 < counts["short"] < 3300


def test_variant_choice_is_independent_across_steps(tmp_path: Path) -> None:
    body = GOOD.replace("      - wait: 1 week\n        template: q/nosubject\n", """
      - wait: 1 week
        variants:
          - {template: q/a}
          - {template: q/b}
    """.strip("\n") + "\n")
    seq = load_sequence(write(tmp_path / "s.yaml", body))
    pairs = Counter(
        (choose_variant(seq.steps[2], f"t{i}").name, choose_variant(seq.steps[3], f"t{i}").name)
        for i in range(4000)
    )
    assert len(pairs) == 4 and min(pairs.values()) > 400


def test_single_template_step_records_the_template_name(tmp_path: Path) -> None:
    seq = load_sequence(write(tmp_path / "s.yaml", GOOD))
    assert choose_variant(seq.steps[1], "anything").name == "q/nosubject"


# --- shipped sequences -----------------------------------------------------------------


def shipped() -> dict[str, Sequence]:
    return load_sequences(ROOT / "sequences", TemplateStore(ROOT / "templates"))


def test_shipped_sequences_load_and_render_their_samples() -> None:
    sequences = shipped()
    assert set(sequences) == {"quote-follow-up", "post-meeting-proposal", "inbound-lead", "reengage", "referral"}
    store = TemplateStore(ROOT / "templates")
    for seq in sequences.values():
        assert seq.sample, seq.id
        assert sample_problems(seq, store, date(2025, 11, 26), US) == []
        for step in seq.steps:
            ctx = build_context(seq.sample, SAMPLE_MAILBOX, seq, step, "https://example.com/u/t",
                                date(2025, 11, 26), US)
            for variant in step.variants:
                touch = render_step(store, seq, step, variant, ctx)
                assert (touch.subject is not None) == step.starts_thread
                assert seq.sample["name"].split()[0] in touch.text  # greets by first name
                assert "Sam Rivera" in touch.text  # signed by the rep
                assert "{{" not in touch.text and "{%" not in touch.text


def test_shipped_quote_and_proposal_follow_ups_are_one_to_one_mail() -> None:
    sequences = shipped()
    assert sequences["quote-follow-up"].list_unsubscribe is False
    assert sequences["post-meeting-proposal"].list_unsubscribe is False
    quote = sequences["quote-follow-up"]
    assert quote.total_steps == 7 and quote.steps[-1].is_task  # six emails, then a call
    assert sum(s.wait.amount for s in quote.steps if s.wait.unit == "business_days") <= 16
    inbound = sequences["inbound-lead"]
    assert inbound.steps[0].wait.unit == "minutes"


def test_shipped_quote_follow_up_offers_a_plain_opt_out_in_the_body() -> None:
    quote = shipped()["quote-follow-up"]
    store = TemplateStore(ROOT / "templates")
    texts = []
    for step in (s for s in quote.steps[1:] if not s.is_task):
        ctx = build_context(quote.sample, SAMPLE_MAILBOX, quote, step, None, date(2025, 3, 6), US)
        texts.append(render_step(store, quote, step, step.variants[0], ctx).text)
    assert any("stop following up" in t for t in texts)


def test_sample_problems_catch_a_variable_the_sample_lacks(tmp_path: Path, store: TemplateStore) -> None:
    seq = load_sequence(write(tmp_path / "s.yaml", """
        name: S
        sample: {email: a@example.com, name: Dana}
        steps:
          - {wait: 0, template: q/a, subject: Hi}
        """), store)
    (problem,) = sample_problems(seq, store, date(2025, 3, 6), US)
    assert problem.path == str(store.directory / "q/a.txt") and problem.line == 1
    assert "'company' is undefined" in problem.message


def test_required_variables_of_a_sequence_include_step_subjects(tmp_path: Path, store: TemplateStore) -> None:
    seq = load_sequence(write(tmp_path / "s.yaml", GOOD), store)
    assert sequence_required_variables(store, seq) == {"company"}


# --- CLI: validate and preview ---------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    import shutil

    shutil.copytree(ROOT / "sequences", tmp_path / "sequences")
    shutil.copytree(ROOT / "templates", tmp_path / "templates")
    (tmp_path / "sequencer.yaml").write_text("timezone: America/New_York\nholidays: US\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SEQUENCER_CONFIG", raising=False)
    return tmp_path


def run_cli(*args: str) -> Any:
    from click.testing import CliRunner

    from sequencer.cli import main

    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_validate_passes_on_the_shipped_sequences(project: Path) -> None:
    result = run_cli("validate")
    assert result.exit_code == 0, result.output
    assert result.output.count(": ok (") == 5


def test_validate_reports_every_problem_with_file_line_and_exits_2(project: Path) -> None:
    bad = project / "sequences" / "broken.yaml"
    bad.write_text("name: Broken\nsteps:\n  - wait: soon\n    template: quote/02-checkin\n"
                   "  - wait: 1 day\n    template: quote/nope\n", encoding="utf-8")
    result = run_cli("validate", str(bad))
    assert result.exit_code == 2
    assert f"{bad}:3: step 1.wait: cannot read wait 'soon'" in result.output
    assert "1 problem found" in result.output
    result = run_cli("validate", "--json")
    assert result.exit_code == 2 and '"line": 3' in result.output


def test_preview_shows_local_and_utc_send_times_threading_and_copy(project: Path) -> None:
    result = run_cli("preview", "quote-follow-up", "--sample", "--start", "2025-11-25T20:00")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Step 1/7: Quote sent" in out and "Task for the rep (call)" in out
    assert "sends    Tue 2025-11-25 14:00 CST  (2025-11-25 20:00 UTC)" in out
    # 2 business days after Tuesday skips Thanksgiving (Thursday) -> Friday.
    assert "sends    Fri 2025-11-28 14:00 CST  (2025-11-28 20:00 UTC)" in out
    assert "subject  Re: Your quote Q-2025-0142 for Northwind Fabrication" in out
    assert out.count("new thread") == 2 and "reply in thread" in out
    assert "    Hi Dana," in out


def test_preview_needs_exactly_one_prospect_source(project: Path) -> None:
    from click.testing import CliRunner

    from sequencer.cli import main

    result = CliRunner().invoke(main, ["preview", "quote-follow-up"])
    assert result.exit_code == 2 and "exactly one of --prospect EMAIL or --sample" in result.output
    result = CliRunner().invoke(main, ["preview", "no-such-sequence", "--sample"])
    assert result.exit_code == 2 and "no sequence 'no-such-sequence'" in result.output


def test_validate_reports_every_gap_in_one_pass_and_never_ok_for_a_broken_sequence(
    project: Path,
) -> None:
    (project / "templates" / "gaps").mkdir()
    (project / "templates" / "gaps" / "one.txt").write_text(
        "---\nsubject: Hi {{ first_name }} {{ gap_a }}\n---\nBody {{ gap_b }} and {{ gap_c }}\n"
    )
    bad = project / "sequences" / "gaps.yaml"
    bad.write_text(
        "name: Gaps\nsteps:\n  - wait: 0\n    template: gaps/one\n"
        "  - wait: 1 day\n    task: \"Call {{ first_name }} about {{ quote_ref }}\"\n"
        "sample: {email: a@b.example, name: Ann Bee}\n",
        encoding="utf-8",
    )
    typo = project / "sequences" / "typo.yaml"
    typo.write_text(
        "name: Typo\nsteps:\n  - wait: 0\n    template: quote/01-sent\n    subjet: Hi\n",
        encoding="utf-8",
    )
    result = run_cli("validate")
    assert result.exit_code == 2
    for gap in ("gap_a", "gap_b", "gap_c", "quote_ref"):  # all four, not only the first
        assert f"'{gap}' is undefined" in result.stderr, result.stderr
    assert f"{bad}:6: missing variable: 'quote_ref'" in result.stderr  # the task's own line
    assert f"{typo}:5: step 1: unknown key 'subjet' (did you mean 'subject'?)" in result.stderr
    assert f"{bad}: ok" not in result.stdout and f"{typo}: ok" not in result.stdout
    assert result.stdout.count(": ok (") == 5  # the shipped sequences are still checked and listed
    assert "5 problems found" in result.stderr


def test_preview_renders_task_text_for_the_prospect(project: Path) -> None:
    path = project / "sequences" / "call.yaml"
    path.write_text(
        "name: Call\nsteps:\n  - wait: 0\n    template: quote/01-sent\n    subject: Hi\n"
        "  - wait: 1 day\n    task: \"Call {{ first_name }} at {{ company }}\"\n"
        "sample: {email: a@b.example, name: Ann Bee, company: Acme}\n",
        encoding="utf-8",
    )
    result = run_cli("preview", "call", "--sample")
    assert "Task for the rep (other): Call Ann at Acme" in result.output, result.output
