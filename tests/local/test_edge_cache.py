"""The local emulation of the storefront's CloudFront cache (snacks/local/edge_cache.py).

CloudFront Developer Guide: "Control the cache key with a policy" (the key is the path plus the policy's
headers), "Manage how long content stays in the cache (expiration)" (the origin's Cache-Control max-age is
used within the policy's minimum and maximum TTL, the default TTL when the origin sends none), "Simultaneous
requests for the same object (request collapsing)". The settings are the ones the CDK cache policy is built
from (tests/infra/test_storefront.py pins the template's side).
"""

from __future__ import annotations

import threading
import time

from snacks.local.edge_cache import Answer, EdgeCache, ttl_seconds
from stacks import storefront_definitions as sf

PATH = "/orders/abc"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def answer(body: str, status: int = 200, cache_control: str = "max-age=1") -> Answer:
    return Answer(status, body.encode(), {"cache-control": cache_control})


def test_the_key_is_path_authorization_and_origin_for_get_and_head_only() -> None:
    token_a = [("Authorization", "Bearer a"), ("Origin", "https://shop.example"), ("Accept", "x")]
    key = EdgeCache.key("GET", PATH, token_a)
    assert key == (PATH, "Bearer a", "https://shop.example")
    assert EdgeCache.key("HEAD", PATH, token_a) == key
    assert EdgeCache.key("GET", PATH, [("authorization", "Bearer b")]) != key
    assert EdgeCache.key("POST", PATH + "/cancel", token_a) is None  # POSTs are never cached
    assert EdgeCache.key("GET", "/orders", token_a) is None  # outside the /orders/* behaviour


def test_one_tokens_answer_never_serves_another_token() -> None:
    cache = EdgeCache(Clock())
    a = EdgeCache.key("GET", PATH, [("Authorization", "Bearer a")])
    b = EdgeCache.key("GET", PATH, [("Authorization", "Bearer b")])
    assert a is not None and b is not None
    assert cache.lookup(a, lambda: answer("order")) == (answer("order"), False)
    assert cache.lookup(a, lambda: answer("unused")) == (answer("order"), True)
    assert cache.lookup(b, lambda: answer("not found", 404)) == (answer("not found", 404), False)


def test_ttl_is_the_origins_max_age_within_the_policy_and_expires() -> None:
    assert ttl_seconds("max-age=1") == 1
    assert ttl_seconds("public, max-age=3600") == sf.ORDER_READ_CACHE_MAX_SECONDS
    assert ttl_seconds(None) == sf.ORDER_READ_CACHE_SECONDS
    clock = Clock()
    cache = EdgeCache(clock)
    key = (PATH, "Bearer a", "")
    cache.lookup(key, lambda: answer("v1"))
    clock.now += 0.9
    assert cache.lookup(key, lambda: answer("v2"))[0].body == b"v1"
    clock.now += 0.2
    assert cache.lookup(key, lambda: answer("v2")) == (answer("v2"), False)
    assert cache.lookup(key, lambda: answer("v3", cache_control="max-age=0"))[0].body == b"v2"
    clock.now += 1.1
    cache.lookup(key, lambda: answer("v3", cache_control="max-age=0"))  # max-age=0 within [0, 5]: not kept
    assert cache.lookup(key, lambda: answer("v4")) == (answer("v4"), False)


def test_errors_are_not_kept() -> None:
    cache = EdgeCache(Clock())
    key = (PATH, "Bearer a", "")
    cache.lookup(key, lambda: answer("boom", 500))
    assert cache.lookup(key, lambda: answer("ok")) == (answer("ok"), False)


def test_simultaneous_misses_make_one_origin_request() -> None:
    cache = EdgeCache(Clock())
    key = (PATH, "Bearer a", "")
    release, fetches = threading.Event(), []

    def slow() -> Answer:
        fetches.append(1)
        assert release.wait(10)
        return answer("order")

    results: list[tuple[Answer, bool]] = []
    threads = [threading.Thread(target=lambda: results.append(cache.lookup(key, slow))) for _ in range(8)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10  # a bound: the seven others queue behind the first in microseconds
    while cache.collapsed < 7 and time.monotonic() < deadline:
        time.sleep(0.001)
    assert cache.collapsed == 7
    release.set()
    for thread in threads:
        thread.join(10)
    assert len(fetches) == 1 and len(results) == 8
    assert all(result[0] == answer("order") for result in results)
