"""Stateless, signed challenges and session tokens for the HTTP gateway.

A person proves control of a key on chain by signing a challenge; the gateway then issues a
short-lived bearer token and asks the services on the person's behalf (as a delegate). The
token names the key that signed in too: a session stops seeing what an officer sees once that
key is revoked. Both are HMAC-signed with the gateway's secret, so several gateway replicas
sharing the secret need no shared session store.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from govchain.protocol.requests import AccessDenied

CHALLENGE_TTL_S = 300
SESSION_TTL_S = 900


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Session:
    principal: str
    expires: int
    key_id: str | None = None
    """The key the person signed in with (None in a token issued before sessions named it)."""


class Sessions:
    def __init__(self, secret: bytes) -> None:
        if len(secret) < 32:
            raise ValueError("the gateway secret must be at least 32 bytes")
        self._secret = secret

    def _seal(self, claims: dict[str, object]) -> str:
        body = _b64(json.dumps(claims, sort_keys=True, separators=(",", ":")).encode())
        mac = _b64(hmac.new(self._secret, body.encode(), hashlib.sha256).digest())
        return f"{body}.{mac}"

    def _open(self, token: str, kind: str) -> dict[str, Any]:
        try:
            body, mac = token.split(".")
            expected = _b64(hmac.new(self._secret, body.encode(), hashlib.sha256).digest())
            if not hmac.compare_digest(mac, expected):
                raise ValueError("bad mac")
            claims = json.loads(_unb64(body))
        except (ValueError, json.JSONDecodeError):
            raise AccessDenied("unauthenticated", f"not a valid {kind}") from None
        if not isinstance(claims, dict) or claims.get("kind") != kind:
            raise AccessDenied("unauthenticated", f"not a {kind}")
        if int(claims["exp"]) < time.time():
            raise AccessDenied("unauthenticated", f"the {kind} has expired")
        return claims

    def challenge(self) -> str:
        """A fresh challenge for a person to sign with their key."""
        return self._seal(
            {"kind": "challenge", "nonce": secrets.token_hex(16), "exp": int(time.time()) + CHALLENGE_TTL_S}
        )

    def check_challenge(self, challenge: str) -> str:
        """The challenge's nonce, if the gateway issued it and it has not expired."""
        return str(self._open(challenge, "challenge")["nonce"])

    def issue(self, principal: str, key_id: str) -> tuple[str, Session]:
        session = Session(principal, int(time.time()) + SESSION_TTL_S, key_id)
        return self._seal({"kind": "session", "sub": principal, "exp": session.expires, "key": key_id}), session

    def session(self, token: str) -> Session:
        claims = self._open(token, "session")
        key = claims.get("key")
        return Session(str(claims["sub"]), int(claims["exp"]), key if isinstance(key, str) else None)
