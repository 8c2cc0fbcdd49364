"""An emulation of the storefront's CloudFront cache in front of the local HTTP API (opt-in).

There is no CloudFront locally. With ``SNACKS_EDGE_CACHE=1`` the local HTTP API answers the
distribution's cached behaviour the way its cache policy says, and no further: the settings are the
ones the CDK construct builds its cache policy from (``stacks.storefront_definitions``), so the two
cannot drift. Emulated: GET/HEAD requests whose path matches ``ORDER_READ_CACHE_PATH`` are keyed on
the path and the ``ORDER_READ_CACHE_HEADERS`` values (CloudFront Developer Guide, "Control the cache
key with a policy"); a stored answer lives for the origin's ``Cache-Control: max-age`` clamped to
[min TTL, max TTL], or the default TTL without one ("Manage how long content stays in the cache
(expiration)"); simultaneous misses on one key wait for the one origin request in flight ("Simultaneous
requests for the same object (request collapsing)", CloudFront Developer Guide). Not emulated: one cache
per edge location (this is one edge), error caching (only 200 answers are kept), compression variants,
invalidations.
"""

from __future__ import annotations

import fnmatch
import os
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from stacks import storefront_definitions as sf

EDGE_CACHE_ENV = "SNACKS_EDGE_CACHE"
CACHED_METHODS = frozenset({"GET", "HEAD"})
COLLAPSE_WAIT_SECONDS = 30.0  # the HTTP API's integration timeout; a waiter never waits longer
_MAX_AGE = re.compile(r"(?:^|,)\s*(?:s-maxage|max-age)\s*=\s*(\d+)", re.IGNORECASE)


def enabled() -> bool:
    return os.environ.get(EDGE_CACHE_ENV, "") == "1"


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    headers: dict[str, str]


def x_cache(hit: bool) -> dict[str, str]:
    """CloudFront's X-Cache response header ("Hit from cloudfront" / "Miss from cloudfront")."""
    return {"x-cache": "Hit from cloudfront" if hit else "Miss from cloudfront"}


def ttl_seconds(cache_control: str | None) -> float:
    """The origin's max-age within the policy's [min, max]; the default TTL when it sends none."""
    found = _MAX_AGE.search(cache_control or "")
    if found is None:
        return float(sf.ORDER_READ_CACHE_SECONDS)
    return float(min(max(int(found.group(1)), sf.ORDER_READ_CACHE_MIN_SECONDS), sf.ORDER_READ_CACHE_MAX_SECONDS))


class EdgeCache:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._entries: dict[tuple[str, ...], tuple[float, Answer]] = {}
        self._lock = threading.Lock()
        self._in_flight: dict[tuple[str, ...], threading.Event] = {}
        self._shared: dict[tuple[str, ...], tuple[threading.Event, Answer]] = {}
        self.hits = 0
        self.collapsed = 0  # requests that waited for another's origin request
        self.misses = 0

    @staticmethod
    def key(method: str, path: str, headers: Iterable[tuple[str, str]]) -> tuple[str, ...] | None:
        """The cache key, or None when the request is not cacheable (method or path outside the behaviour)."""
        if method not in CACHED_METHODS or not fnmatch.fnmatchcase(path, sf.ORDER_READ_CACHE_PATH):
            return None
        lowered = {name.lower(): value for name, value in headers}
        return (path, *(lowered.get(name.lower(), "") for name in sf.ORDER_READ_CACHE_HEADERS))

    def lookup(self, key: tuple[str, ...], fetch: Callable[[], Answer]) -> tuple[Answer, bool]:
        """The fresh cached answer (True), or ``fetch``'s (False), one fetch per key at a time."""
        while True:
            with self._lock:
                entry = self._entries.get(key)
                if entry is not None and entry[0] > self._clock():
                    self.hits += 1
                    return entry[1], True
                in_flight = self._in_flight.get(key)
                if in_flight is None:
                    self._in_flight[key] = threading.Event()
                    self.misses += 1
                    break
            with self._lock:
                self.collapsed += 1
            if not in_flight.wait(COLLAPSE_WAIT_SECONDS):  # the origin is stuck: go to it ourselves
                with self._lock:
                    self.misses += 1
                return fetch(), False
            with self._lock:  # the collapsed request's answer, even one not kept (CloudFront shares it too)
                shared = self._shared.get(key)
            if shared is not None and shared[0] is in_flight:
                self.hits += 1
                return shared[1], True
        try:
            answer = fetch()
            self._put(key, answer)
            with self._lock:
                self._shared[key] = (self._in_flight[key], answer)
            return answer, False
        finally:
            with self._lock:
                self._in_flight.pop(key).set()

    def _put(self, key: tuple[str, ...], answer: Answer) -> None:
        if answer.status != 200:
            return
        ttl = ttl_seconds(answer.headers.get("cache-control"))
        if ttl <= 0:
            return
        with self._lock:
            self._entries[key] = (self._clock() + ttl, answer)
