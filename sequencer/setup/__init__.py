"""Getting a project into shape and keeping it there: its database and its checks.

The edges (``sequencer/cli``, and whatever else starts a process) open the project's
database and check its config and servers through here, so none of them needs to
know about engines, Alembic or the mail adapters. ``database`` opens the database and
reports or upgrades its schema; ``checks`` is ``sequencer check`` (and the place for
the operator's ``doctor`` checks to grow).
"""
