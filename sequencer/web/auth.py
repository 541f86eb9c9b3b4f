"""Who may open the dashboard, and proof that a POST came from our own page.

Authentication is per user (``sequencer user add``; ``sequencer.people.users``), or,
until a manager exists, the bootstrap secret named by environment variables (``web:``
in the config): a scrypt password hash made by ``sequencer web hash-password``, or a
token, or both. The browser gets a signed, HttpOnly, SameSite=Strict session
cookie holding the user's name, a per-session CSRF token and the secret of the
server-side session row (so logout and ``user disable`` revoke it at once). Without any
secret configured the dashboard still issues a session (for its CSRF token),
but ``sequencer web`` then refuses to listen beyond the loopback interface.

Nothing here ever returns or logs a secret; comparisons are constant-time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

from sequencer.config import WebConfig
from sequencer.errors import UserError

COOKIE = "sequencer_session"
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
_SCRYPT_MAXMEM = 64 * 1024 * 1024
MIN_TOKEN_LENGTH = 16


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """``scrypt$N$r$p$<salt>$<hash>`` (base64): safe to keep in an environment variable."""
    if not password:
        raise UserError("the password must not be empty")
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, maxmem=_SCRYPT_MAXMEM
    )
    return "$".join(
        ["scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(digest)]
    )


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def check_password_hash(encoded: str) -> None:
    """Raise UserError when ``encoded`` is not a hash this module can verify (checked at start-up)."""
    parts = encoded.split("$")
    try:
        if len(parts) != 6 or parts[0] != "scrypt":
            raise ValueError
        int(parts[1]), int(parts[2]), int(parts[3])
        _unb64(parts[4]), _unb64(parts[5])
    except ValueError:
        raise UserError(
            "the dashboard password hash is not of the form scrypt$N$r$p$salt$hash "
            "(make one with `sequencer web hash-password`)"
        ) from None


def verify_password(password: str, encoded: str) -> bool:
    check_password_hash(encoded)
    _, n, r, p, salt, expected = encoded.split("$")
    digest = hashlib.scrypt(
        password.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p), maxmem=_SCRYPT_MAXMEM
    )
    return hmac.compare_digest(digest, _unb64(expected))


@dataclass(frozen=True)
class Session:
    """What the signed cookie carries. ``user`` is None until someone logs in; ``sid`` is the
    secret of the server-side session (``sequencer.people.web_sessions``), None before login."""

    csrf: str
    user: str | None = None
    sid: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class WebAuth:
    """The dashboard's secrets, read once at start-up (repr never shows them)."""

    password_hash: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    session_secret: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    session_hours: float = 12.0

    def __post_init__(self) -> None:
        if self.password_hash:
            check_password_hash(self.password_hash)
        if self.token is not None and len(self.token) < MIN_TOKEN_LENGTH:
            raise UserError(
                f"the dashboard token is shorter than {MIN_TOKEN_LENGTH} characters; make one with "
                "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )

    @property
    def required(self) -> bool:
        """True when a login is needed (a password hash or a token is configured)."""
        return bool(self.password_hash or self.token)

    def accepts(self, secret: str) -> bool:
        """The login form's secret matches the password or the token."""
        if not secret:
            return False
        ok = False
        if self.token:
            ok = hmac.compare_digest(secret.encode(), self.token.encode()) or ok
        if self.password_hash:
            ok = verify_password(secret, self.password_hash) or ok
        return ok

    def accepts_bearer(self, header: str | None) -> bool:
        """``Authorization: Bearer <token>`` (for scripts fetching CSV); the token only."""
        bearer = bearer_of(header)
        if not self.token or not bearer:
            return False
        return hmac.compare_digest(bearer.encode(), self.token.encode())

    # -- the session cookie ----------------------------------------------------------
    def _serializer(self) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self.session_secret, salt="sequencer-web-session")

    def dump(self, session: Session) -> str:
        return self._serializer().dumps({"c": session.csrf, "u": session.user, "s": session.sid})

    def load(self, cookie: str | None) -> Session | None:
        """The session in a cookie, or None when it is missing, forged or expired."""
        if not cookie:
            return None
        try:
            data: Any = self._serializer().loads(cookie, max_age=int(self.session_hours * 3600))
        except BadSignature:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("c"), str):
            return None
        user, sid = data.get("u"), data.get("s")
        return Session(
            csrf=data["c"],
            user=user if isinstance(user, str) else None,
            sid=sid if isinstance(sid, str) else None,
        )

    @staticmethod
    def new_session(user: str | None = None, sid: str | None = None) -> Session:
        return Session(csrf=secrets.token_urlsafe(32), user=user, sid=sid)

    @staticmethod
    def csrf_ok(session: Session | None, submitted: str | None) -> bool:
        if session is None or not submitted:
            return False
        return hmac.compare_digest(session.csrf.encode(), submitted.encode())


def bearer_of(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, else None."""
    if not header or not header.startswith("Bearer "):
        return None
    return header[7:].strip() or None


def auth_from_env(web: WebConfig, environ: Mapping[str, str] | None = None) -> WebAuth:
    """Secrets named by the ``web:`` config section, from the environment."""
    env = os.environ if environ is None else environ
    secret = env.get(web.session_secret_env)
    return WebAuth(
        password_hash=env.get(web.password_hash_env) or None,
        token=env.get(web.token_env) or None,
        session_secret=hashlib.sha256(secret.encode()).digest()
        if secret
        else secrets.token_bytes(32),
        session_hours=web.session_hours,
    )


__all__ = [
    "COOKIE",
    "Session",
    "WebAuth",
    "auth_from_env",
    "check_password_hash",
    "hash_password",
    "verify_password",
]
