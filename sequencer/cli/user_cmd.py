"""`sequencer user add|list|disable|enable|passwd|token|revoke-tokens`: dashboard logins.

A manager sees every lead on the dashboard, a rep only their own (README, "Users and
roles"). A password is asked without echo, or read from standard input or from an
environment variable named on the command line; never taken as an argument, so it
stays out of shell history and the process list.
"""

from __future__ import annotations

import os
import sys
from dataclasses import asdict
from typing import Any

import click

from sequencer.cli.base import (
    App,
    echo_json,
    format_short,
    json_option,
    main,
    pass_app,
    print_table,
)
from sequencer.errors import UserError
from sequencer.people import users


def password_options(f: Any) -> Any:
    f = click.option(
        "--password-env", metavar="VAR", help="Read the password from this environment variable."
    )(f)
    return click.option(
        "--password-stdin", is_flag=True, help="Read the password from standard input (for scripts)."
    )(f)


def read_password(password_stdin: bool, password_env: str | None) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if password_env:
        value = os.environ.get(password_env)
        if not value:
            raise UserError(f"the environment variable {password_env} is not set")
        return value
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True))


@main.group("user")
def user_group() -> None:
    """Dashboard logins: managers see every lead, reps only their own."""


@user_group.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(users.ROLES), required=True, help="manager or rep.")
@click.option("--rep", help="The owner name a rep's leads carry (default: NAME).")
@click.option("--no-password", is_flag=True, help="No password: SSO header or API tokens only.")
@password_options
@pass_app
def user_add_cmd(
    app: App,
    name: str,
    role: str,
    rep: str | None,
    no_password: bool,
    password_stdin: bool,
    password_env: str | None,
) -> None:
    """Add a dashboard login. Once an enabled manager exists, the shared web password or
    token no longer logs in.

    \b
    Example:
      sequencer user add maria --role manager
      sequencer user add alice --role rep
      printf '%s\\n' "$PW" | sequencer user add bob --role rep --rep bob.smith --password-stdin
    """
    password = None if no_password else read_password(password_stdin, password_env)
    viewer = users.add_user(app.db, name, role=role, rep=rep, password=password, now=app.clock.now())
    sees = f"the leads of {viewer.rep}" if viewer.owner else "every lead"
    click.echo(f"added {viewer.role} {viewer.name}: sees {sees}")


@user_group.command("list")
@json_option
@pass_app
def user_list_cmd(app: App, as_json: bool) -> None:
    """The dashboard's users, their roles and whether they are disabled.

    \b
    Example:
      sequencer user list --json
    """
    rows = users.list_users(app.db)
    if as_json:
        echo_json([asdict(r) for r in rows])
        return
    print_table(
        [
            (r.name, r.role, r.rep or "", "disabled" if r.disabled else "active",
             "yes" if r.has_password else "no", format_short(r.created_at))
            for r in rows
        ],
        ["name", "role", "rep", "state", "password", "created (UTC)"],
    )


@user_group.command("disable")
@click.argument("name")
@pass_app
def user_disable_cmd(app: App, name: str) -> None:
    """Disable a login: its sessions and API tokens end at once.

    \b
    Example:
      sequencer user disable bob
    """
    ended = users.disable_user(app.db, name, now=app.clock.now())
    click.echo(f"disabled {name}; ended {ended} session(s) and revoked its tokens")


@user_group.command("enable")
@click.argument("name")
@pass_app
def user_enable_cmd(app: App, name: str) -> None:
    """Enable a disabled login again (its old tokens stay revoked).

    \b
    Example:
      sequencer user enable bob
    """
    users.enable_user(app.db, name, now=app.clock.now())
    click.echo(f"enabled {name}")


@user_group.command("passwd")
@click.argument("name")
@password_options
@pass_app
def user_passwd_cmd(app: App, name: str, password_stdin: bool, password_env: str | None) -> None:
    """Set a new password; every session of the user ends at once.

    \b
    Example:
      sequencer user passwd alice
    """
    password = read_password(password_stdin, password_env)
    ended = users.set_password(app.db, name, password, now=app.clock.now())
    click.echo(f"new password for {name}; ended {ended} session(s)", err=True)


@user_group.command("token")
@click.argument("name")
@click.option("--label", help="What the token is for (shown nowhere else).")
@pass_app
def user_token_cmd(app: App, name: str, label: str | None) -> None:
    """Print a new API token for scripts (``Authorization: Bearer``, GET only); it sees
    what its user sees. Shown once: only its digest is stored.

    \b
    Example:
      TOKEN=$(sequencer user token alice --label crm-sync)
      curl -H "Authorization: Bearer $TOKEN" https://sales.example.com/csv/unanswered.csv
    """
    click.echo(users.new_token(app.db, name, label=label, now=app.clock.now()))


@user_group.command("revoke-tokens")
@click.argument("name")
@pass_app
def user_revoke_tokens_cmd(app: App, name: str) -> None:
    """Revoke every API token of a user.

    \b
    Example:
      sequencer user revoke-tokens alice
    """
    n = users.revoke_tokens(app.db, name, now=app.clock.now())
    click.echo(f"revoked {n} token(s) of {name}")
