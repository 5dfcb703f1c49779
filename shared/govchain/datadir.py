"""The data folder of one GovChain node: keys, genesis, NATS store, databases, run file."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from govchain.crypto import CHECKPOINT_SUITE, DEFAULT_SUITE, CryptoSuite, needs_checkpoint_key, suite_by_name
from govchain.privacy.kekfiles import KekFiles
from govchain.privatefiles import make_tree_private, private_folder, write_private
from govchain.protocol.envelope import Envelope
from govchain.protocol.errors import GovChainError
from govchain.protocol.genesis import genesis_payload, genesis_suite, make_genesis_block, make_genesis_event
from govchain.protocol.keys import SigningKey
from govchain.protocol.policy import DEFAULT_POLICY, EventTimeRule
from govchain.pseudonym import create_pseudonym_key, load_pseudonym_key

PLATFORM_SERVICES = ("registry", "contract-engine", "gateway")
"""Services that sign events of their own; each gets a key and a principal in genesis."""
CHECKPOINT_KEY = "checkpoint"
"""``keys/checkpoint.pem``: the Ed25519 key of a gm chain's C2SP checkpoints (an intl chain's
orderer key signs them itself)."""


def credentials_key_name(owner: str) -> str:
    """``keys/<owner>-credentials.pem``: the Ed25519 key ``owner`` registered for W3C credentials
    only (``key.added``, purpose ``credentials``; a gm chain's), one name for whoever writes it
    (the demo) and whoever signs with it (the gateway)."""
    return f"{owner}-credentials"


class DataDirError(GovChainError):
    """The data folder is missing something it needs (say, run ``govchain init``)."""


@dataclass(frozen=True)
class DataDir:
    root: Path

    @property
    def keys(self) -> Path:
        return self.root / "keys"

    @property
    def genesis_file(self) -> Path:
        return self.root / "genesis.json"

    @property
    def nats_store(self) -> Path:
        return self.root / "nats"

    @property
    def run_file(self) -> Path:
        return self.root / "run.json"

    @property
    def pseudonym_key_file(self) -> Path:
        return self.keys / "pseudonym.key"

    def pseudonym_key(self, secret: SecretStr | None = None) -> bytes:
        """The pseudonym HMAC key: from ``secret`` (hex, from settings) when given, else its file."""
        if secret is not None:
            return bytes.fromhex(secret.get_secret_value())
        return load_pseudonym_key(self.pseudonym_key_file)

    @property
    def vault_kek_files(self) -> KekFiles:
        """The key vault's key-encryption key (``keys/vault.kek``), kept apart from its database."""
        return KekFiles(self.keys)

    def key_file(self, name: str) -> Path:
        return self.keys / f"{name}.pem"

    def is_initialised(self) -> bool:
        return self.genesis_file.exists()

    def init(
        self, chain_id: str, *, event_time: EventTimeRule | None = None, crypto: str = DEFAULT_SUITE
    ) -> dict[str, str]:
        """Create the root and orderer keys and the signed genesis event; refuse to overwrite.

        ``event_time``: the window an event's time must keep around its block's time
        (default: :class:`EventTimeRule`'s ±300 s); fixed for the chain's whole life.
        ``crypto``: the chain's crypto profile (``intl`` or ``gm``), fixed for its life too;
        a chain whose orderer keys cannot sign C2SP checkpoints (gm) also gets an Ed25519
        checkpoint key (``keys/checkpoint.pem``), named in genesis."""
        if self.is_initialised():
            raise DataDirError(f"{self.root} already holds a chain (genesis.json exists)")
        suite = suite_by_name(crypto)  # refuses an unknown profile before anything is written
        private_folder(self.root)
        private_folder(self.keys)
        root, orderer = SigningKey.generate(suite), SigningKey.generate(suite)
        services = {name: SigningKey.generate(suite) for name in PLATFORM_SERVICES}
        checkpoint = SigningKey.generate(CHECKPOINT_SUITE) if needs_checkpoint_key(suite) else None
        root.save(self.key_file("root"))
        orderer.save(self.key_file("orderer"))
        if checkpoint is not None:
            checkpoint.save(self.key_file(CHECKPOINT_KEY))
        for name, key in services.items():
            key.save(self.key_file(name))
        create_pseudonym_key(self.pseudonym_key_file)
        if not self.vault_kek_files.current.exists():
            self.vault_kek_files.create_current(suite)
        policy = DEFAULT_POLICY.model_copy(update={"event_time": event_time or EventTimeRule()})
        genesis = make_genesis_event(
            chain_id, [root], [orderer], services=services, policy=policy, checkpoint_key=checkpoint
        )
        write_private(self.genesis_file, (json.dumps(genesis.to_dict(), indent=2) + "\n").encode())
        info = {
            "chain_id": chain_id,
            "crypto": suite.name,
            "genesis_hash": make_genesis_block(genesis, orderer).hash,
            "root_key_id": root.key_id,
            "orderer_key_id": orderer.key_id,
        }
        if checkpoint is not None:
            info["checkpoint_key_id"] = checkpoint.key_id
        return info

    def genesis(self) -> Envelope:
        if not self.is_initialised():
            raise DataDirError(f"{self.root} has no genesis.json: run `govchain init --data {self.root}`")
        return Envelope.model_validate(json.loads(self.genesis_file.read_text()))

    def crypto_suite(self) -> CryptoSuite:
        """The chain's crypto suite, as its genesis names it."""
        return genesis_suite(self.genesis())

    def checkpoint_key(
        self, orderer_pem: SecretStr | None = None, checkpoint_pem: SecretStr | None = None
    ) -> SigningKey:
        """The key that signs the chain's C2SP checkpoints: the Ed25519 checkpoint key when
        genesis names one (a gm chain), from ``checkpoint_pem`` (``GOVCHAIN_CHECKPOINT_KEY``) or
        ``keys/checkpoint.pem``; else the orderer key (an intl chain's is Ed25519). A checkpoint
        key given to an intl chain is refused: it would sign nothing, a sign of a mixed-up secret."""
        named = genesis_payload(self.genesis()).checkpoint_key
        if named is None:
            if checkpoint_pem is not None:
                raise DataDirError(
                    "GOVCHAIN_CHECKPOINT_KEY is set, but genesis names no checkpoint key "
                    "(an intl chain's orderer key signs its checkpoints): unset it"
                )
            return self.signing_key("orderer", orderer_pem)
        key = self.signing_key(CHECKPOINT_KEY, checkpoint_pem)
        if key.public.hex != named:
            where = "GOVCHAIN_CHECKPOINT_KEY" if checkpoint_pem is not None else str(self.key_file(CHECKPOINT_KEY))
            raise DataDirError(f"{where} is not the checkpoint key genesis names")
        return key

    def signing_key(self, name: str, pem: SecretStr | None = None) -> SigningKey:
        """The named key: from ``pem`` when given (a secret from settings), else its 0600 file."""
        if pem is not None:
            return SigningKey.from_pem(pem.get_secret_value().encode())
        return SigningKey.load(self.key_file(name))

    def write_run_info(self, info: dict[str, Any]) -> None:
        write_private(self.run_file, (json.dumps(info, indent=2) + "\n").encode())

    def update_run_info(self, **values: Any) -> None:
        self.write_run_info({**(self.run_info() or {}), **values})

    def run_info(self) -> dict[str, Any] | None:
        if not self.run_file.exists():
            return None
        return dict(json.loads(self.run_file.read_text()))

    def clear_run_info(self) -> None:
        self.run_file.unlink(missing_ok=True)

    def running_pid(self) -> int | None:
        """The pid of a ``govchain up`` still running on this folder (None if none, or if the
        run file was left by one that died)."""
        pid = (self.run_info() or {}).get("pid")
        if not isinstance(pid, int):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return pid  # alive, another user's
        return pid

    def make_private(self) -> list[Path]:
        """0700 folders and 0600 files throughout (for folders made by older versions)."""
        return make_tree_private(self.root)
