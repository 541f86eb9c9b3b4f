"""`sequencer web`: serve the manager dashboard; `sequencer web hash-password`: make its password hash.

The dashboard reads the same database as `sequencer run` and may run beside it or
alone. It listens on 127.0.0.1 unless told otherwise, and refuses any other address
while no password hash or token is configured (README, "The manager dashboard").
"""

from __future__ import annotations

import ipaddress
import socket
import sys

import click

from sequencer.cli.base import App, main
from sequencer.errors import UserError
from sequencer.people import users


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and names that resolve only to them (``localhost``)."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(
        ipaddress.ip_address(str(i[4][0]).split("%")[0]).is_loopback for i in infos
    )


def bound_address(host: str) -> tuple[str, ...]:
    """The --host address as a Host name to serve: only a literal, specific address.

    A rebinding page cannot make the browser send an IP literal it does not own, so
    serving ``http://10.0.0.5:8050/`` when bound there is safe; 0.0.0.0 or a name is not.
    """
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return ()
    return () if ip.is_unspecified else (str(ip),)


def _web_extra_missing(exc: ImportError) -> UserError:
    return UserError(
        f"the dashboard needs the web extra: pip install 'sequencer[web]' ({exc.name} is missing)"
    )


@main.group("web", invoke_without_command=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=8050,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on.",
)
@click.pass_context
def web_group(ctx: click.Context, host: str, port: int) -> None:
    """Serve the manager dashboard (Needs attention, Pipeline, Reps, Lead, Sequence).

    Binds 127.0.0.1 by default. Any other address needs authentication: users
    (`sequencer user add`), or the environment variable named by
    web.password_hash_env (default SEQUENCER_WEB_PASSWORD_HASH, from `sequencer web
    hash-password`) or web.token_env (default SEQUENCER_WEB_TOKEN). Only requests
    whose Host is loopback, web.base_url's host, in web.allowed_hosts or the --host
    address are served (400 otherwise).

    \b
    Example:
      sequencer web
      SEQUENCER_WEB_PASSWORD_HASH="$(sequencer web hash-password)" \\
        SEQUENCER_WEB_SECRET=... sequencer web --host 0.0.0.0 --port 8050
    """
    if ctx.invoked_subcommand is not None:
        return
    app = ctx.find_object(App)
    assert app is not None
    try:
        import uvicorn

        from sequencer.web.app import create_app
        from sequencer.web.auth import auth_from_env
    except ImportError as exc:
        raise _web_extra_missing(exc) from None
    config = app.config
    auth = auth_from_env(config.web)
    if config.web.sso_header and not is_loopback(host):
        raise UserError(
            f"refusing to listen on {host} with web.sso_header set: that header is trusted, so only "
            "the reverse proxy that sets it may reach the dashboard (listen on 127.0.0.1 behind it)"
        )
    if not is_loopback(host) and not auth.required and not users.mode(app.db).users:
        raise UserError(
            f"refusing to listen on {host} without authentication: add a user (`sequencer user add`), "
            f"set {config.web.password_hash_env} (from `sequencer web hash-password`) or "
            f"{config.web.token_env}, or use --host 127.0.0.1"
        )
    asgi = create_app(config, app.db, app.clock, auth=auth, extra_hosts=bound_address(host))
    root_path = ""
    if config.web.base_url:
        from urllib.parse import urlsplit

        root_path = urlsplit(config.web.base_url).path.rstrip("/")
    shown = f"[{host}]" if ":" in host else host
    click.echo(
        f"dashboard on http://{shown}:{port}/ ({'login required' if auth.required else 'no login, loopback only'})",
        err=True,
    )
    uvicorn.run(
        asgi,
        host=host,
        port=port,
        root_path=root_path,
        proxy_headers=True,
        log_level="warning",
        server_header=False,
    )


@web_group.command("hash-password")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from standard input (for scripts)."
)
def hash_password_cmd(password_stdin: bool) -> None:
    """Print a scrypt hash of a dashboard password, for SEQUENCER_WEB_PASSWORD_HASH.

    The password is asked twice without echo (or read from stdin); only the hash is printed.

    \b
    Example:
      export SEQUENCER_WEB_PASSWORD_HASH="$(sequencer web hash-password)"
    """
    try:
        from sequencer.web.auth import hash_password
    except ImportError as exc:
        raise _web_extra_missing(exc) from None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    click.echo(hash_password(password))
