"""Where the demo runs: its simulated calendar and the project directory it writes.

The directory holds a normal, annotated config, a fresh SQLite database and a copy of
the shipped quote follow-up (``sequencer/demo/data``), so ``list``, ``show`` and
``report`` work on it after the demo's mail servers are gone.
"""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, time, timedelta
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo

from sequencer.demo.cast import MANAGER, PASSWORD, REP, REP_NAME, TEAM_TZ
from sequencer.demo.servers import SENT_FOLDER
from sequencer.errors import UserError

SEQUENCE_ID = "quote-follow-up"
DAY_START, DAY_END = time(8, 0), time(18, 0)
STEP = timedelta(minutes=30)


def demo_start(today: date, days: int) -> datetime:
    """The Monday morning ``days`` before ``today`` (or the one before), so the run ends about now.

    Ending near the present makes ``list``/``show``/``report`` on a kept demo read
    naturally with the real clock.
    """
    first = today - timedelta(days=days)
    monday = first - timedelta(days=first.weekday())
    return datetime.combine(monday, DAY_START, ZoneInfo(TEAM_TZ)).astimezone(UTC)


def simulated_steps(start: datetime, days: int) -> list[datetime]:
    """Every 30 minutes of business hours (08:00-18:00, Mon-Fri, team time) for ``days`` days."""
    tz = ZoneInfo(TEAM_TZ)
    first = start.astimezone(tz).date()
    steps = []
    for offset in range(days + 1):
        day = first + timedelta(days=offset)
        if day.weekday() >= 5:
            continue
        t = datetime.combine(day, DAY_START, tz)
        end = datetime.combine(day, DAY_END, tz)
        while t <= end:
            steps.append(t.astimezone(UTC))
            t += STEP
    return steps


def config_yaml(smtp_port: int, imap_port: int) -> str:
    return f"""\
# Written by `sequencer demo`. The mail servers it names ran inside the demo and are
# gone now; the database stays, so `list`, `show` and `report` work on it.
database: sqlite:///sequencer.db
timezone: {TEAM_TZ}
business_days: [mon, tue, wed, thu, fri]
sequences_dir: sequences
templates_dir: templates
mailboxes:
  - name: sam
    address: {REP}
    display_name: {REP_NAME}
    owner: sam
    timezone: {TEAM_TZ}
    signature: "{REP_NAME}\\nAcme Sheet Metal"
    password_cmd: echo {PASSWORD}
    smtp: {{host: 127.0.0.1, port: {smtp_port}, security: none}}
    imap:
      host: 127.0.0.1
      port: {imap_port}
      security: none
      folders: {{sent: {SENT_FOLDER}}}   # the demo IMAP server has no SPECIAL-USE
    # Demo pacing: no spacing between touches and limits nobody would use for real.
    daily_limit: 10000
    per_minute: 1000
    min_spacing_seconds: 0
    max_spacing_seconds: 0
    concurrency: 4
reporting:
  managers: [{MANAGER}]
  reply_sla_hours: 4
"""


def require_empty(directory: Path) -> None:
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise UserError(
            f"{directory} is not an empty directory: give `sequencer demo --keep` a new one "
            "(the demo writes sequencer.yaml, sequencer.db, sequences/ and templates/ there)"
        )


def prepare_directory(directory: Path, smtp_port: int, imap_port: int) -> Path:
    """Config, sequence and templates into ``directory``, which must be new or empty."""
    require_empty(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with resources.as_file(resources.files("sequencer.demo") / "data") as src:
        shutil.copytree(
            src, directory, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__")
        )
    config_path = directory / "sequencer.yaml"
    config_path.write_text(config_yaml(smtp_port, imap_port), encoding="utf-8")
    return config_path
