"""The one test harness: every test that needs a project on the real test servers starts here.

- ``World`` (``world.py``): a config dir with rep mailboxes, a manager and three sequences,
  driven through the real engine (``world.tick()``), poller (``world.poll()``) and CLI;
  the send path, the rep workflow, the worker and the dashboard tests use it.
- ``Project`` / ``make_project`` (``inbox.py``): a rep's mailbox whose touches are delivered
  by hand with known Message-IDs, so the inbox tests can script exactly what comes back
  (replies, bounces, out-of-office) and the poll benchmark can fill a mailbox fast.

The inbox watermark the sender waits for is always written through the production
``record_poll`` (``mark_polled``), never a test-only shortcut.
"""

from tests.kit.inbox import SEQUENCE_YAML, Project, fill_maildir, make_project, reply_to
from tests.kit.world import World, bulk_enroll, mark_polled, parse

__all__ = [
    "SEQUENCE_YAML",
    "Project",
    "World",
    "bulk_enroll",
    "fill_maildir",
    "make_project",
    "mark_polled",
    "parse",
    "reply_to",
]
