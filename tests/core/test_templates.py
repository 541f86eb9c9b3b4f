"""Templates: strict about missing data, safe against hostile input, fast on repeat."""

from __future__ import annotations

import os
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from sequencer.core.schedule import BusinessCalendar
from sequencer.core.template_context import build_context, required_variables
from sequencer.core.templates import TemplateStore, first_name, money, render_touch
from sequencer.errors import HeaderInjectionError, TemplateError

US = BusinessCalendar(country="US")
MAILBOX = {"name": "sam", "address": "sam@example.com", "display_name": "Sam Rivera",
           "signature": "Sam Rivera\nAccount Executive"}


def make(tmp_path: Path, name: str, text: str) -> TemplateStore:
    path = tmp_path / "templates" / f"{name}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return TemplateStore(tmp_path / "templates")


def ctx(**prospect: Any) -> dict[str, Any]:
    return build_context(prospect, MAILBOX, None, None, None, date(2025, 11, 26), US)


FULL = """---
subject: Quote {{ quote_number }} for {{ company }}
---
Hi {{ first_name }},

Prices for {{ company }} & partners.
{{ signature }}
--- html ---
<p>Hi {{ first_name }},</p>
<p>Prices for {{ company }} &amp; partners.</p>
<p>{{ signature | nl2br }}</p>
"""


def test_renders_subject_text_and_html_with_escaping_only_in_html(tmp_path: Path) -> None:
    store = make(tmp_path, "quote/01", FULL)
    touch = render_touch(store, "quote/01", ctx(name="Dana K. Whitfield", company="Smith & <Sons>",
                                                 quote_number="Q-7"))
    assert touch.subject == "Quote Q-7 for Smith & <Sons>"
    assert touch.text == "Hi Dana,\n\nPrices for Smith & <Sons> & partners.\nSam Rivera\nAccount Executive\n"
    assert touch.html is not None
    assert "Smith &amp; &lt;Sons&gt;" in touch.html
    assert "Sam Rivera<br>\nAccount Executive" in touch.html


def test_a_template_without_front_matter_has_no_subject(tmp_path: Path) -> None:
    store = make(tmp_path, "plain", "Hi {{ first_name | default('there') }}\n")
    touch = render_touch(store, "plain", ctx())
    assert touch == type(touch)(None, "Hi there\n", None)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Dana K. Whitfield", "Dana"),
        ("Whitfield, Dana", "Dana"),
        ("Dr. Dana Lee", "Dana"),
        ("DANA WHITFIELD", "Dana"),
        ("dana", "Dana"),
        ("DeShawn McKenzie", "DeShawn"),
        ("", ""),
    ],
)
def test_first_name_filter(name: str, expected: str) -> None:
    assert first_name(name) == expected


def test_first_name_is_derived_and_default_works_when_there_is_no_name(tmp_path: Path) -> None:
    store = make(tmp_path, "t", "Hi {{ first_name | default('there') }}, {{ name | first_name }}!\n")
    assert render_touch(store, "t", ctx(name="Dana K. Whitfield")).text == "Hi Dana, Dana!\n"
    store = make(tmp_path, "u", "Hi {{ first_name | default('there') }}\n")
    assert render_touch(store, "u", ctx(email="x@example.com", name="")).text == "Hi there\n"


def test_missing_variable_names_template_line_and_variable(tmp_path: Path) -> None:
    store = make(tmp_path, "quote/02", "---\nsubject: Hi\n---\nHello,\n\nYour {{ quote_number }} is ready.\n")
    with pytest.raises(TemplateError) as exc:
        render_touch(store, "quote/02", ctx(name="Dana"))
    assert exc.value.template == "quote/02"
    assert exc.value.line == 6
    assert exc.value.variable == "quote_number"
    assert str(exc.value).startswith("quote/02:6: missing variable")
    assert 'quote_number | default("...")' in str(exc.value)


def test_missing_variable_in_subject_and_html_report_their_own_lines(tmp_path: Path) -> None:
    store = make(tmp_path, "s", "---\n# comment\nsubject: For {{ company }}\n---\nbody\n")
    with pytest.raises(TemplateError) as exc:
        render_touch(store, "s", ctx())
    assert (exc.value.line, exc.value.variable) == (3, "company")
    store = make(tmp_path, "h", "text\n--- html ---\n<p>ok</p>\n<p>{{ deal_value }}</p>\n")
    with pytest.raises(TemplateError) as exc:
        render_touch(store, "h", ctx())
    assert (exc.value.line, exc.value.variable) == (4, "deal_value")


def test_syntax_error_reports_file_line(tmp_path: Path) -> None:
    store = make(tmp_path, "bad", "---\nsubject: Hi\n---\nok\n{% if x %}\nnever closed\n")
    with pytest.raises(TemplateError, match=r"^bad:\d+: syntax error"):
        render_touch(store, "bad", ctx(x=1))


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("---\nfrom: me\n---\nbody\n", "unknown front matter line 'from: me'"),
        ("---\nsubject: Hi\n", "never closed"),
        ("---\nsubject: Hi\nHello Dana\n", "ends with a '---' line"),
    ],
)
def test_bad_front_matter_is_an_error(tmp_path: Path, text: str, fragment: str) -> None:
    store = make(tmp_path, "fm", text)
    with pytest.raises(TemplateError, match=fragment):
        render_touch(store, "fm", ctx())


def test_sandbox_escape_is_a_template_error(tmp_path: Path) -> None:
    store = make(tmp_path, "evil", "Hi\n{{ ''.__class__.__mro__[1].__subclasses__() }}\n")
    with pytest.raises(TemplateError) as exc:
        render_touch(store, "evil", ctx())
    assert "sandbox" in str(exc.value) and exc.value.line == 2
    assert "__subclasses__" not in (exc.value.variable or "")


def test_subject_with_newline_from_prospect_data_is_header_injection(tmp_path: Path) -> None:
    store = make(tmp_path, "inj", "---\nsubject: Quote for {{ company }}\n---\nbody\n")
    with pytest.raises(HeaderInjectionError) as exc:
        render_touch(store, "inj", ctx(company="Acme\r\nBcc: victim@example.com"))
    assert exc.value.line == 2
    with pytest.raises(HeaderInjectionError):
        render_touch(store, "inj", ctx(company="Acme\x00"))


def test_step_subject_overrides_and_reports_the_sequence_location(tmp_path: Path) -> None:
    store = make(tmp_path, "t", "---\nsubject: Template subject\n---\nbody\n")
    touch = render_touch(store, "t", ctx(company="Acme"), subject="Step {{ company }}")
    assert touch.subject == "Step Acme"
    with pytest.raises(TemplateError) as exc:
        render_touch(store, "t", ctx(), subject="Step {{ company }}",
                     subject_origin="sequences/q.yaml", subject_line=12)
    assert str(exc.value).startswith("sequences/q.yaml:12:")
    assert render_touch(store, "t", ctx(), include_subject=False).subject is None


def test_context_flattens_custom_fields_and_drops_blank_cells() -> None:
    context = build_context(
        {"email": "d@x.com", "name": "Dana Whitfield", "company": "", "fields": {"quote_number": "Q-1",
         "email": "ignored@x.com", "Quote #": 7}},
        MAILBOX, None, None, "https://u.example/1", date(2025, 11, 26), US,
    )
    assert context["email"] == "d@x.com" and context["quote_number"] == "Q-1"
    assert "company" not in context  # a blank CSV cell lets default(...) apply
    assert context["first_name"] == "Dana" and context["last_name"] == "Whitfield"
    assert context["prospect"]["Quote #"] == 7
    assert context["rep"]["first_name"] == "Sam" and context["rep"]["email"] == "sam@example.com"
    assert context["unsubscribe_url"] == "https://u.example/1"
    assert "unsubscribe_url" not in ctx()


def test_next_business_day_name_knows_weekends_and_holidays(tmp_path: Path) -> None:
    store = make(tmp_path, "nbd", "Talk {{ next_business_day_name() }}?\n")
    # The day before US Thanksgiving (Thu 27 Nov 2025): the next business day is Friday.
    assert render_touch(store, "nbd", ctx()).text == "Talk Friday?\n"
    friday = build_context({}, MAILBOX, None, None, None, date(2025, 3, 7), US)
    assert render_touch(store, "nbd", friday).text == "Talk Monday?\n"


def test_money_filter() -> None:
    assert money(18400) == "$18,400"
    assert money("46,000.5", "€", 2) == "€46,000.50"
    assert money("call me") == "call me"


def test_required_variables_skip_guarded_and_context_names(tmp_path: Path) -> None:
    store = make(tmp_path, "req", """---
subject: For {{ company }}
---
Hi {{ first_name | default("there") }},
{% if quote_number is defined %}Quote {{ quote_number }}{% endif %}
{% for item in items %}{{ item }}{% endfor %}
{{ deal_value | money }} {{ signature }} {{ rep.first_name }} {{ next_business_day_name() }}
""")
    assert required_variables(store, "req") == {"company", "items", "deal_value"}
    assert required_variables(store, "req", include_subject=False) == {"items", "deal_value"}


def test_an_edited_template_is_picked_up_without_restart(tmp_path: Path) -> None:
    store = make(tmp_path, "live", "version one\n")
    assert render_touch(store, "live", ctx()).text == "version one\n"
    path = tmp_path / "templates" / "live.txt"
    path.write_text("version two!\n", encoding="utf-8")
    later = time.time() + 5
    os.utime(path, (later, later))
    assert render_touch(store, "live", ctx()).text == "version two!\n"


def test_templates_compile_once_and_render_fast(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = make(tmp_path, "fast", FULL)
    compiles = 0
    original = store.env.compile

    def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal compiles
        compiles += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(store.env, "compile", counting)
    context = ctx(name="Dana", company="Acme", quote_number="Q-1")
    started = time.perf_counter()
    for _ in range(5000):
        render_touch(store, "fast", context)
    elapsed = time.perf_counter() - started
    assert compiles == 3  # subject, text, html: once each
    assert elapsed < 5.0, f"5000 renders took {elapsed:.2f}s"


def test_unknown_template_and_path_escape_are_errors(tmp_path: Path) -> None:
    store = make(tmp_path, "exists", "x\n")
    with pytest.raises(TemplateError, match="template not found"):
        render_touch(store, "nope", ctx())
    with pytest.raises(TemplateError, match="inside the templates directory"):
        render_touch(store, "../secrets", ctx())
    assert store.names() == ["exists"]
