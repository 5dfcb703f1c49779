"""Signing in over the gateway's API as every client does: ask a challenge, sign it with the
principal's key, get a session token."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from govchain.protocol.keys import SigningKey


def session_token(
    http: httpx.Client, principal: str, key: SigningKey, headers: Callable[[], dict[str, str]] = dict
) -> str:
    """A session token for ``principal``; ``headers()`` is sent with each of the two requests."""
    challenge = http.post("/api/v1/auth/challenge", headers=headers()).json()["challenge"]
    session = http.post(
        "/api/v1/auth/session",
        json={
            "principal": principal,
            "key_id": key.key_id,
            "challenge": challenge,
            "signature": key.sign(challenge.encode()).hex(),
        },
        headers=headers(),
    )
    assert session.status_code == 200, session.text
    return str(session.json()["token"])


def sign_in(http: httpx.Client, principal: str, key: SigningKey) -> dict[str, str]:
    """The ``Authorization`` header of a fresh session for ``principal``."""
    return {"Authorization": f"Bearer {session_token(http, principal, key)}"}
