"""Who may see an order from the storefront: a per-order access token.

The token is 256 random bits (``secrets.token_urlsafe(32)``), handed to the customer once, when the
order is created over HTTP, and stored on the order only as its SHA-256 hash. Why this and not a
signed token: a signature needs a key to keep and rotate (another secret, another grant, another
thing the local stack must emulate) and cannot be revoked per order; a stored hash costs nothing
extra (the read that checks it is the read that answers), and a leaked table holds no usable token.
A salt or a slow hash would add nothing: a 256-bit random value cannot be guessed or looked up.

Checking compares the hashes in constant time (``hmac.compare_digest``), and every refusal is the
same answer whether the order exists or not, so the API never says which order ids are real.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from order_service.domain.order import OrderRecord

# The order attribute holding the hash (hex). Never shown to customers (customer_view is an allow-list).
TOKEN_HASH_ATTRIBUTE = "accessTokenHash"
TOKEN_BYTES = 32  # 256 bits of entropy
# token_urlsafe(32) is 43 characters; anything much longer is not one of ours (and not worth hashing).
TOKEN_MAX_CHARS = 128
# Compared against when the order does not exist, so a miss costs what a wrong token costs.
_NO_ORDER_HASH = hashlib.sha256(b"no such order").hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def may_access(order: OrderRecord | None, token: str | None) -> bool:
    """True only for an existing order created with this token; same work whatever the outcome."""
    if not token or len(token) > TOKEN_MAX_CHARS:
        return False
    stored = str(order.extra.get(TOKEN_HASH_ATTRIBUTE) or "") if order is not None else ""
    expected = stored or _NO_ORDER_HASH
    matches = hmac.compare_digest(token_hash(token).encode("ascii"), expected.encode("ascii"))
    return matches and bool(stored)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (scheme case-insensitive, RFC 6750 §2.1)."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token
