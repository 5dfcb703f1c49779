"""Running a witness: its folder, the logs it follows, its store, and the HTTP server."""

from __future__ import annotations

from collections.abc import Sequence

import uvicorn
from fastapi import FastAPI

from govchain.logs import get_logger
from govchain.privatefiles import make_tree_private
from govchain.protocol.merkle import TreeHasher
from govchain.services.witness.app import MAX_BODY_BYTES, create_app
from govchain.services.witness.folder import WitnessFolder
from govchain.services.witness.store import WitnessStore
from govchain.transparency.vkeys import ALG_ED25519, parse_vkey
from govchain.transparency.witness import TrustedLog, Witness

log = get_logger("govchain.witness")


def trusted_logs(
    log_vkeys: Sequence[str], origin: str | None = None, tree: TreeHasher | None = None
) -> list[TrustedLog]:
    """The logs a witness follows. With ``origin``, every key is a key of that one log; without
    it, each key's name is its log's origin (c2sp.org/tlog-checkpoint: the log's key name SHOULD
    match the origin), so one witness can follow several logs. Raises MalformedKey. ``tree``:
    the logs' tree hash (None: SHA-256, every C2SP log; a gm GovChain chain's suite: SM3)."""
    if origin is not None:
        return [TrustedLog.from_vkeys(origin, list(log_vkeys), tree)]
    by_origin: dict[str, list[str]] = {}
    for vkey in log_vkeys:
        by_origin.setdefault(parse_vkey(vkey, algs=(ALG_ED25519,)).name, []).append(vkey)
    return [TrustedLog.from_vkeys(name, keys, tree) for name, keys in by_origin.items()]


def open_witness(folder: WitnessFolder, logs: Sequence[TrustedLog]) -> tuple[Witness, WitnessStore]:
    """The witness over its folder's key and store (the caller closes the store)."""
    make_tree_private(folder.root)
    signer = folder.signer()
    store = WitnessStore.open(folder.database)
    return Witness(signer, logs, store), store


def witness_app(
    folder: WitnessFolder, logs: Sequence[TrustedLog], *, max_body_bytes: int = MAX_BODY_BYTES
) -> tuple[FastAPI, WitnessStore]:
    """The witness's ASGI app and its store (close the store when the app stops)."""
    witness, store = open_witness(folder, logs)
    return create_app(witness, max_body_bytes=max_body_bytes), store


def serve(
    folder: WitnessFolder, logs: Sequence[TrustedLog], host: str, port: int, *, max_body_bytes: int = MAX_BODY_BYTES
) -> None:
    """Serve until interrupted (uvicorn handles SIGINT and SIGTERM)."""
    app, store = witness_app(folder, logs, max_body_bytes=max_body_bytes)
    try:
        log.info(
            "witness serving",
            host=host,
            port=port,
            vkey=folder.signer().verifier.vkey,
            logs=[entry.origin for entry in logs],
        )
        config = uvicorn.Config(
            app, host=host, port=port, log_level="warning", access_log=False, proxy_headers=False, lifespan="on"
        )
        uvicorn.Server(config).run()
    finally:
        store.close()
