"""Recent page data, so many polling browsers cost one report every few seconds."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable
from time import monotonic
from typing import Any, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


class PageCache:
    """Recent page data per (page, filters), so many polling browsers cost one report every few seconds.

    Data younger than ``max_age`` seconds is served as is; older data is still served
    while one background thread builds its successor (stale-while-revalidate), so only
    the first request for a view waits for ``build_report``. Pages say when their
    figures were computed (``Report.generated_at``). ``max_age`` 0 turns caching off.
    Manager actions call ``clear()`` so their effect shows on the next request.
    """

    def __init__(self, max_age: float, max_entries: int = 128) -> None:
        self.max_age = max_age
        self.max_entries = max_entries
        self._entries: dict[Hashable, tuple[float, Any]] = {}
        self._locks: dict[Hashable, threading.Lock] = {}
        self._refreshing: set[Hashable] = set()
        self._guard = threading.Lock()
        self._generation = 0

    def get(self, key: Hashable, build: Callable[[], T]) -> T:
        if self.max_age <= 0:
            return build()
        with self._guard:
            entry = self._entries.get(key)
            lock = self._locks.setdefault(key, threading.Lock())
            if entry and monotonic() - entry[0] >= self.max_age and key not in self._refreshing:
                self._refreshing.add(key)
                threading.Thread(
                    target=self._refresh, args=(key, build, self._generation), daemon=True
                ).start()
        if entry:
            return entry[1]  # type: ignore[no-any-return]
        with lock:  # the first request for a view builds it once; the others wait for it
            with self._guard:
                entry = self._entries.get(key)
                generation = self._generation
            if entry:
                return entry[1]  # type: ignore[no-any-return]
            value = build()
            self._store(key, value, generation)
            return value

    def _refresh(self, key: Hashable, build: Callable[[], Any], generation: int) -> None:
        try:
            self._store(key, build(), generation)
        except Exception:  # the older data stays; the next request tries again
            log.exception("refreshing dashboard data failed")
        finally:
            with self._guard:
                self._refreshing.discard(key)

    def _store(self, key: Hashable, value: Any, generation: int) -> None:
        with self._guard:
            if generation != self._generation:
                return  # cleared meanwhile: this data may predate a manager's action
            if len(self._entries) >= self.max_entries and key not in self._entries:
                del self._entries[min(self._entries, key=lambda k: self._entries[k][0])]
            self._entries[key] = (monotonic(), value)

    def clear(self) -> None:
        with self._guard:
            self._entries.clear()
            self._generation += 1
