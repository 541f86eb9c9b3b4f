"""A TCP proxy on 127.0.0.1 that can run a hook before a server's greeting reaches the client.

Used to stand in for a slow SMTP server: the client has connected and waits for the
greeting while something else happens (a reply applied by the poller), with no sleeps:
the greeting is forwarded only once the hook has returned.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable

from tests.servers import free_port


class GreetingProxy:
    """Forwards 127.0.0.1:``port`` to ``upstream``; ``on_connect`` (if set) runs first, once."""

    def __init__(self, upstream: int) -> None:
        self.upstream = upstream
        self.port = free_port()
        self.on_connect: Callable[[], None] | None = None
        self.hook_error: BaseException | None = None
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        hook, self.on_connect = self.on_connect, None
        if hook is not None:
            try:
                hook()
            except BaseException as exc:  # noqa: BLE001 - reported to the test, not lost in a thread
                self.hook_error = exc
        server = socket.create_connection(("127.0.0.1", self.upstream))
        for a, b in ((client, server), (server, client)):
            threading.Thread(target=_pipe, args=(a, b), daemon=True).start()

    def close(self) -> None:
        self._closed = True
        self._listener.close()


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := src.recv(65536):
            dst.sendall(data)
    for sock in (src, dst):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
