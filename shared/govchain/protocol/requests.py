"""Signed requests: how a principal proves who is asking when it queries a service.

A query for personal or restricted data carries the requester's principal id, a fresh
timestamp and nonce, and an Ed25519 signature by one of the requester's keys on chain.
The service checks it against the chain state it has verified, so access decisions rest
on the same keys and roles as everything else.
"""

from __future__ import annotations

import secrets
import time as _time
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from govchain.protocol.canonical import canonical_bytes
from govchain.protocol.envelope import HEX64_PATTERN, PRINCIPAL_PATTERN, utc_now
from govchain.protocol.errors import GovChainError
from govchain.protocol.keys import SigningKey
from govchain.protocol.state import ChainState

MAX_CLOCK_SKEW_S = 300
DELEGATES = frozenset({"gateway"})
"""Services trusted to sign for a principal they authenticated themselves (the HTTP gateway
checks a signed challenge, then asks on the person's behalf)."""


class AccessDenied(GovChainError):
    """A request is refused: unauthenticated, or the requester may not see what it asked for."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class RequestSignature(BaseModel):
    """Who asks, proven: attached to a query's parameters."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    requester: str = Field(pattern=PRINCIPAL_PATTERN)
    signer: str = Field(pattern=HEX64_PATTERN)
    time: str
    nonce: str = Field(pattern=r"^[0-9a-f]{32}$")
    signature: str = Field(pattern=r"^[0-9a-f]{128}$")
    on_behalf_of: str | None = Field(default=None, pattern=PRINCIPAL_PATTERN)


def _signed_bytes(query: str, params: dict[str, Any], proof: dict[str, Any]) -> bytes:
    return canonical_bytes({"query": query, "params": params, **proof})


def sign_request(
    key: SigningKey, requester: str, query: str, params: dict[str, Any], *, on_behalf_of: str | None = None
) -> RequestSignature:
    """Sign ``params`` of ``query`` as ``requester`` (the principal owning ``key``), optionally
    for a principal it authenticated (only a delegate service may)."""
    proof: dict[str, Any] = {
        "requester": requester,
        "signer": key.key_id,
        "time": utc_now(),
        "nonce": secrets.token_hex(16),
    }
    if on_behalf_of is not None:
        proof["on_behalf_of"] = on_behalf_of
    signature = key.sign(_signed_bytes(query, params, proof)).hex()
    return RequestSignature(**proof, signature=signature)


def authenticate(
    state: ChainState, query: str, params: dict[str, Any], proof: RequestSignature, *, now: datetime | None = None
) -> str:
    """The principal asking, if ``proof`` is a valid, fresh signature of this query: the
    requester itself, or the principal a delegate service vouches for."""
    record = state.keys.get(proof.signer)
    if record is None or record.owner != proof.requester:
        raise AccessDenied("unauthenticated", f"key {proof.signer} is not a key of {proof.requester} on chain")
    if not record.usable_at(state.height):
        raise AccessDenied("unauthenticated", f"key {proof.signer} is revoked or rotated out")
    try:
        sent = datetime.fromisoformat(proof.time)
    except ValueError:
        raise AccessDenied("unauthenticated", "request time is not an RFC 3339 timestamp") from None
    if sent.utcoffset() is None:  # RFC 3339 requires an offset; a local time means nothing to us
        raise AccessDenied("unauthenticated", "request time has no timezone: end it with 'Z' or an offset")
    skew = abs(((now or datetime.now(UTC)) - sent).total_seconds())
    if skew > MAX_CLOCK_SKEW_S:
        raise AccessDenied("unauthenticated", f"request time is {skew:.0f}s off; sign a fresh request")
    message = _signed_bytes(query, params, proof.model_dump(exclude={"signature"}, exclude_none=True))
    if not record.public_key.verify(bytes.fromhex(proof.signature), message):
        raise AccessDenied("unauthenticated", "request signature does not verify")
    if proof.on_behalf_of is None:
        return proof.requester
    if proof.requester not in DELEGATES or state.kind_of(proof.requester) != "service":
        raise AccessDenied("unauthenticated", f"{proof.requester} may not act on behalf of others")
    if proof.on_behalf_of not in state.principals:
        raise AccessDenied("unauthenticated", f"{proof.on_behalf_of} is not a principal on chain")
    return proof.on_behalf_of


class ReplayGuard:
    """Refuses a nonce seen within the clock-skew window (bounded memory)."""

    def __init__(self, capacity: int = 100_000, ttl_s: float = 2 * MAX_CLOCK_SKEW_S) -> None:
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._capacity = capacity
        self._ttl = ttl_s

    def check(self, nonce: str) -> None:
        now = _time.monotonic()
        while self._seen and (next(iter(self._seen.values())) < now - self._ttl or len(self._seen) >= self._capacity):
            self._seen.popitem(last=False)
        if nonce in self._seen:
            raise AccessDenied("replayed", "this signed request was already used")
        self._seen[nonce] = now
