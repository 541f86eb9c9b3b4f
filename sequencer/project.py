"""Everything loaded from a config's files: calendar, templates, sequences.

Services take a ``Project`` instead of rebuilding the calendar and template
store each time; the CLI builds it once per invocation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sequencer.config import Config
from sequencer.core.schedule import BusinessCalendar
from sequencer.core.sequences import Sequence, load_sequences, sample_problems
from sequencer.core.templates import TemplateStore
from sequencer.errors import Problem, SequenceError


def calendar_for(config: Config) -> BusinessCalendar:
    return BusinessCalendar.from_names(config.business_days, config.holidays, config.holiday_subdivision)


@dataclass
class Project:
    config: Config
    calendar: BusinessCalendar
    templates: TemplateStore
    sequences: dict[str, Sequence]

    def sequence(self, sequence_id: str) -> Sequence:
        try:
            return self.sequences[sequence_id]
        except KeyError:
            from sequencer.errors import NotFound

            known = ", ".join(sorted(self.sequences)) or "none"
            raise NotFound(
                f"no sequence {sequence_id!r} in {self.config.sequences_path} (known: {known})"
            ) from None


def load_project(config: Config) -> Project:
    """Load and statically validate every sequence against the config's mailboxes."""
    templates = TemplateStore(config.templates_path)
    sequences = load_sequences(
        config.sequences_path, templates, mailboxes=[m.name for m in config.mailboxes]
    )
    return Project(config, calendar_for(config), templates, sequences)


def validate_project(config: Config, today: date) -> list[Problem]:
    """Every problem in the sequences and templates, including rendering each sample."""
    try:
        project = load_project(config)
    except SequenceError as exc:
        return list(exc.problems)
    problems: list[Problem] = []
    for sequence in project.sequences.values():
        problems.extend(sample_problems(sequence, project.templates, today, project.calendar))
    return problems
