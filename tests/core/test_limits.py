"""Sequences and templates cannot hang or exhaust `validate` (nor the worker, which renders the same way)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sequencer.core.render_limits import MAX_RENDER_CHARS
from sequencer.core.templates import TemplateStore, render_touch
from sequencer.core.yamlsrc import MAX_YAML_BYTES, load_yaml
from sequencer.errors import ConfigError, TemplateError

ROOT = Path(__file__).resolve().parents[2]

# Nine levels of nine: 600 bytes that expand to 387 million values.
ALIAS_BOMB = "name: Bomb\n" + "a0: &a0 [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]\n" for i in range(1, 9)
) + "steps:\n  - wait: 0\n    template: t/one\n"

SEQUENCE = """name: Loops
sample: {email: dana@example.com, name: Dana}
steps:
  - wait: 0
    subject: Hello
    template: t/one
"""


def validate(project: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    """`sequencer validate` as a user runs it, timed; a hang would fail on the timeout."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("SEQUENCER_CONFIG", None)
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "sequencer", "validate", *args],
        cwd=project, env=env, capture_output=True, text=True, timeout=60,
    )
    return result, time.monotonic() - started


def project_with(tmp_path: Path, sequence: str, template: str) -> Path:
    (tmp_path / "sequences").mkdir()
    (tmp_path / "templates" / "t").mkdir(parents=True)
    (tmp_path / "sequences" / "s.yaml").write_text(sequence, encoding="utf-8")
    (tmp_path / "templates" / "t" / "one.txt").write_text(template, encoding="utf-8")
    (tmp_path / "sequencer.yaml").write_text("timezone: UTC\n", encoding="utf-8")
    return tmp_path


def test_a_600_byte_alias_bomb_fails_validate_fast_with_file_and_line(tmp_path: Path) -> None:
    assert len(ALIAS_BOMB) < 600
    project = project_with(tmp_path, ALIAS_BOMB, "Hi\n")
    result, seconds = validate(project)
    assert result.returncode == 2, result.stderr
    assert seconds < 10
    assert "s.yaml:" in result.stderr and "alias bomb" in result.stderr


def test_a_nested_loop_template_fails_validate_within_seconds_naming_template_and_line(
    tmp_path: Path,
) -> None:
    template = "Hi\n{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}\n"
    project = project_with(tmp_path, SEQUENCE, template)
    result, seconds = validate(project)
    assert result.returncode == 2, result.stderr
    assert seconds < 15
    assert "t/one" in result.stderr and "took longer than" in result.stderr


@pytest.mark.parametrize(
    "template",
    [
        "{{ 'x' * 200000000 }}\n",  # refused before the 200 MB string is built
        "{% for i in range(99999) %}{{ 'x' * 2000 }}{% endfor %}\n",  # 200 MB, chunk by chunk
        "{{ 'x' | center(200000000) }}\n",
        "{{ '%200000000d' % 1 }}\n",
    ],
)
def test_a_template_producing_200_mb_is_rejected(tmp_path: Path, template: str) -> None:
    project = project_with(tmp_path, SEQUENCE, template)
    result, seconds = validate(project)
    assert result.returncode == 2, result.stderr
    assert f"{MAX_RENDER_CHARS:,}" in result.stderr and "t/one" in result.stderr
    assert seconds < 15


def test_after_a_timeout_the_next_render_works(tmp_path: Path) -> None:
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "slow.txt").write_text(
        "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}", encoding="utf-8"
    )
    (tmp_path / "t" / "ok.txt").write_text("Hi {{ name }}\n", encoding="utf-8")
    store = TemplateStore(tmp_path)
    with pytest.raises(TemplateError, match="took longer than") as info:
        render_touch(store, "t/slow", {})
    assert info.value.line == 1
    for _ in range(50):
        assert render_touch(store, "t/ok", {"name": "Dana"}).text == "Hi Dana\n"


def test_oversized_files_are_refused_before_reading(tmp_path: Path) -> None:
    big = tmp_path / "sequences"
    big.mkdir()
    (big / "s.yaml").write_text("name: x\n#" + "x" * MAX_YAML_BYTES + "\n", encoding="utf-8")
    (tmp_path / "templates").mkdir()
    (tmp_path / "sequencer.yaml").write_text("timezone: UTC\n", encoding="utf-8")
    result, _ = validate(tmp_path)
    assert result.returncode == 2 and "more than the limit" in result.stderr
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "big.txt").write_text("x" * (MAX_YAML_BYTES + 1), encoding="utf-8")
    with pytest.raises(TemplateError, match="more than the limit"):
        render_touch(TemplateStore(tmp_path), "t/big", {})


def test_ordinary_aliases_still_work() -> None:
    data = load_yaml("base: &b {x: 1}\nother: *b\n", "f.yaml").data
    assert data == {"base": {"x": 1}, "other": {"x": 1}}
    with pytest.raises(ConfigError, match="alias bomb"):
        load_yaml(ALIAS_BOMB, "f.yaml")
