"""The people tests' world: a real config.yaml, two sequences and their templates.

``make_world`` writes them into tmp_path with the database of the ``db_url`` fixture;
the enroll, import, state-change and CLI tests all start from it (the ``world``
fixture in this folder's conftest).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select

from sequencer.clock import ManualClock
from sequencer.config import Config
from sequencer.core.sequence_files import load_sequences
from sequencer.core.sequences import Sequence
from sequencer.core.templates import TemplateStore
from sequencer.db.session import Database
from sequencer.people import enroll as svc
from sequencer.project import load_config

QUOTE_SEQUENCE = """\
name: Quote follow-up
steps:
  - wait: 0
    template: quote/01
    subject: "Your quote for {{ company }}"
  - wait: 2 business days
    template: quote/02
  - wait: 3 business days
    template: quote/02
"""

NURTURE_SEQUENCE = """\
name: Nurture
timezone: Europe/London
send_window: {days: [mon, tue, wed, thu, fri], start: "10:00", end: "12:00"}
steps:
  - wait: 1 day
    template: nurture/01
    subject: "Hello {{ first_name | default('there') }}"
"""


@dataclass
class World:
    root: Path
    config_path: Path
    config: Config
    sequences: dict[str, Sequence]


def make_world(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch, **extra: Any) -> World:
    """config.yaml (database = db_url), sequences/quote.yaml + nurture.yaml, templates, 2 mailboxes."""
    monkeypatch.setenv("SEQ_TEST_PASSWORD", "secret")
    root = tmp_path / "world"
    (root / "sequences").mkdir(parents=True, exist_ok=True)
    for name in ("quote", "nurture"):
        (root / "templates" / name).mkdir(parents=True, exist_ok=True)
    (root / "templates" / "quote" / "01.txt").write_text(
        "Hi {{ first_name | default('there') }},\n\nquote {{ quote_number }} for {{ company }}.\n"
    )
    (root / "templates" / "quote" / "02.txt").write_text("Any news on {{ quote_number }}?\n")
    (root / "templates" / "nurture" / "01.txt").write_text("Thought you might like this.\n")
    (root / "sequences" / "quote.yaml").write_text(QUOTE_SEQUENCE)
    (root / "sequences" / "nurture.yaml").write_text(NURTURE_SEQUENCE)

    def mailbox(name: str, tz: str | None = None) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "name": name,
            "address": f"{name}@rep.example",
            "owner": name,
            "password_env": "SEQ_TEST_PASSWORD",
            "smtp": {"host": "127.0.0.1", "port": 2525, "security": "none"},
            "send_window": {"days": "business", "start": "08:30", "end": "17:00"},
        }
        if tz:
            entry["timezone"] = tz
        return entry

    config = {
        "database": db_url,
        "timezone": "America/Chicago",
        "holidays": "US",
        "sequences_dir": "sequences",
        "templates_dir": "templates",
        "mailboxes": [mailbox("sam"), mailbox("lee", "Europe/Berlin")],
        **extra,
    }
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    cfg = load_config(path)
    sequences = load_sequences(cfg.sequences_path, TemplateStore(cfg.templates_path))
    return World(root, path, cfg, sequences)


def enroll(
    db: Database, world: World, clock: ManualClock, email: str, sequence_id: str = "quote", **kw: Any
) -> svc.EnrollResult:
    kw.setdefault("company", "Acme")
    kw.setdefault("fields", {"quote_number": "Q-1"})
    return svc.enroll(
        db,
        world.config,
        world.sequences,
        email=email,
        sequence_id=sequence_id,
        now=clock.now(),
        **kw,
    )


def count(db: Database, model: Any, *where: Any) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))
