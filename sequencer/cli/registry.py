"""Which module defines each top-level command, and its one-line help.

``sequencer --help`` and every cron ``tick`` start by importing the CLI; importing every
command module (and through them SQLAlchemy, the classifier and the send engine) made
``--help`` 15x slower than ``import click``. The group imports a command's module only
when that command runs, and ``--help`` lists these lines instead.
``tests/cli/test_registry.py`` fails when a command is missing here or its help differs.
"""

from __future__ import annotations

# name -> (module under sequencer.cli, short help as click would print it)
COMMANDS: dict[str, tuple[str, str]] = {
    "check": (
        "setup_cmd",
        "Validate the config, every sequence and template; optionally test the servers.",
    ),
    "classify": (
        "classify_cmd",
        "Classify saved messages as reply, auto_reply, bounce, complaint, unsubscribe, unrelated or own.",
    ),
    "db": (
        "setup_cmd",
        "Database schema: upgrade and inspect.",
    ),
    "demo": (
        "demo_cmd",
        "Run the real engine end to end on this machine, nothing to install.",
    ),
    "digest": (
        "report_cmd",
        "The managers' daily digest; prints the text version unless --send.",
    ),
    "doctor": (
        "doctor_cmd",
        "Check the config, database revision, each mailbox's servers, clock skew and disk.",
    ),
    "done": (
        "tasks_cmd",
        "Mark a task done; the sequence moves on to its next step.",
    ),
    "enroll": (
        "prospects_cmd",
        "Create or update a prospect and put it into a sequence.",
    ),
    "import": (
        "prospects_cmd",
        "Enroll every row of a CSV file; bad rows go to FILE's .rejects.csv with reasons.",
    ),
    "inbound": (
        "poll_cmd",
        "What the poller read: every classified message, and the ones set aside.",
    ),
    "init": (
        "setup_cmd",
        "Write a starter config, one example sequence and its templates.",
    ),
    "intent": (
        "intent_cmd",
        "Correct the intent of a prospect's last reply; its effects are planned again.",
    ),
    "list": (
        "list_cmd",
        "Where every lead stands: step, status, last and next touch, days in the current state.",
    ),
    "mark-replied": (
        "states_cmd",
        "Record that the prospect answered outside email (a call); stops their sequences.",
    ),
    "outbox": (
        "send_cmd",
        "Touches claimed but not (yet) sent: held after a crash, retrying, failed.",
    ),
    "pause": (
        "states_cmd",
        "Pause a prospect's active enrollments (or a whole sequence with --sequence alone).",
    ),
    "poll": (
        "poll_cmd",
        "Read new mail once: stop sequences on replies, record out-of-offices and bounces.",
    ),
    "preview": (
        "sequences_cmd",
        "Show every touch of SEQUENCE: send time (prospect's zone and UTC), threading, copy.",
    ),
    "report": (
        "report_cmd",
        "Where every lead stands: per sequence and rep, aging, replies, pipeline value.",
    ),
    "resume": (
        "states_cmd",
        "Resume paused enrollments; an overdue touch goes at the next send-window opening.",
    ),
    "run": (
        "send_cmd",
        "Keep sending: tick, sleep, repeat, until SIGTERM/SIGINT (in-flight sends finish first).",
    ),
    "show": (
        "list_cmd",
        "A prospect's timeline: enrollments, touches, replies and every state change.",
    ),
    "skip": (
        "tasks_cmd",
        "Skip a task with a reason; the sequence moves on to its next step.",
    ),
    "stage": (
        "stage_cmd",
        "Move a prospect's deal to STAGE (any stage; every move is an event with its actor).",
    ),
    "status": (
        "send_cmd",
        "Per mailbox: state, sent today / limit, next due, backlog and why, held, last poll, forecast.",
    ),
    "stop": (
        "states_cmd",
        "Stop open enrollments on purpose (they count as finished).",
    ),
    "suppress": (
        "suppress_cmd",
        "Addresses and whole domains that are never emailed.",
    ),
    "tick": (
        "send_cmd",
        "Poll the inboxes, then send every touch that is due now.",
    ),
    "todo": (
        "tasks_cmd",
        "The rep's open tasks, oldest first, with the prospect, deal value and thread.",
    ),
    "unenroll": (
        "states_cmd",
        "Take open enrollments out as if never made (not counted as finished).",
    ),
    "user": (
        "user_cmd",
        "Dashboard logins: managers see every lead, reps only their own.",
    ),
    "validate": (
        "sequences_cmd",
        "Check sequence files and their templates; render each against its sample.",
    ),
    "web": (
        "web_cmd",
        "Serve the manager dashboard (Needs attention, Pipeline, Reps, Lead, Sequence).",
    ),
}
