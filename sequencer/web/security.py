"""Headers every dashboard response carries, and the htmx settings that let the CSP hold.

A Content-Security-Policy of ``default-src 'self'`` (no inline script or style; htmx
is told not to inject its indicator style), plus nosniff, frame denial and no-store
for pages (static files may be cached); and the Host allow-list against DNS rebinding.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HTMX_CONFIG = json.dumps(
    {
        "includeIndicatorStyles": False,  # htmx would inject an inline <style> the CSP refuses
        "allowEval": False,
        "allowScriptTags": False,
        "selfRequestsOnly": True,
        "historyCacheSize": 0,  # keep lead data out of localStorage
    }
)


class SecurityHeaders:
    """Adds the CSP and friends to every response, static files and errors included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = "/static/" in scope.get("path", "")

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"content-security-policy", CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"same-origin"),
                ]
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, wrapped)


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def host_name(header: str) -> str | None:
    """The name in a ``Host`` header without its port, lower-cased; None when malformed."""
    value = header.strip().lower()
    if value.startswith("["):  # [::1]:8050
        end = value.find("]")
        if end < 0 or (value[end + 1 :] and not value[end + 1 :].startswith(":")):
            return None
        name, port = value[1:end], value[end + 2 :]
    elif value.count(":") > 1:  # a bare IPv6 address is not a valid Host
        return None
    else:
        name, _, port = value.partition(":")
    if not name or (port and not port.isdigit()):
        return None
    return name.rstrip(".")


def allowed_hosts(base_url: str | None, extra: Iterable[str] = ()) -> frozenset[str]:
    """Loopback names, ``base_url``'s host and the configured extra names."""
    names = set(LOOPBACK_HOSTS)
    if base_url:
        host = urlsplit(base_url).hostname
        if host:
            names.add(host.lower())
    names |= {n.strip().lower().strip("[]") for n in extra if n.strip()}
    return frozenset(names)


class HostAllowList:
    """Refuses (400) any request whose ``Host`` is not one of ours, before any page is built.

    A DNS-rebinding page points its own name at 127.0.0.1 and reads the answer as
    same-origin; its requests still carry its own name in ``Host``, so this stops it
    whether or not a login is configured. Starlette's TrustedHostMiddleware splits
    ``[::1]:8050`` at the first colon, hence this small equivalent. The header is never
    echoed back.
    """

    def __init__(self, app: ASGIApp, hosts: Iterable[str]) -> None:
        self.app = app
        self.hosts = frozenset(hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        header = ""
        for key, value in scope.get("headers", []):
            if key == b"host":
                header = value.decode("latin-1")
                break
        if host_name(header) in self.hosts:
            await self.app(scope, receive, send)
            return
        response = PlainTextResponse(
            "Unknown host name. Open the dashboard by its configured address "
            "(web.base_url or web.allowed_hosts).",
            status_code=400,
        )
        await response(scope, receive, send)
