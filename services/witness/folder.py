"""A witness's folder: its cosigning key, its name and its state, private to its user.

The key is an Ed25519 PEM file like every GovChain key (0600, never overwritten); the name is
the note key name its cosignatures carry (a schema-less URL such as ``audit.example/witness``).
Name and key together make the witness's vkey, which clients list in their policy.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from govchain.privatefiles import private_folder, write_private_durably
from govchain.protocol.errors import GovChainError, KeyFileError
from govchain.protocol.keys import SigningKey
from govchain.transparency.cosignature import CosignatureSigner
from govchain.transparency.note import is_valid_key_name


class WitnessFolderError(GovChainError):
    """The witness folder is missing, incomplete or already initialised."""


class WitnessFolder:
    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def key_file(self) -> Path:
        return self.root / "witness.pem"

    @property
    def config_file(self) -> Path:
        return self.root / "witness.json"

    @property
    def database(self) -> Path:
        return self.root / "witness.db"

    def is_initialised(self) -> bool:
        return self.config_file.exists() and self.key_file.exists()

    def init(self, name: str) -> CosignatureSigner:
        """Create the key and record the name; refuse a folder that already has a key."""
        if not is_valid_key_name(name):
            raise WitnessFolderError(f"invalid witness name {name!r}: no spaces and no '+'")
        if self.key_file.exists() or self.config_file.exists():
            raise WitnessFolderError(f"{self.root} already holds a witness; refusing to replace its key")
        private_folder(self.root)
        key = SigningKey.generate()
        key.save(self.key_file)
        signer = CosignatureSigner(name, key)
        config = {"name": name, "vkey": signer.verifier.vkey}
        write_private_durably(self.config_file, (json.dumps(config, indent=2) + "\n").encode("utf-8"))
        return signer

    def name(self) -> str:
        try:
            config = json.loads(self.config_file.read_bytes())
            name = config["name"]
        except FileNotFoundError:
            raise WitnessFolderError(f"{self.root} holds no witness: run `govchain witness init`") from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise WitnessFolderError(f"{self.config_file} is unreadable: {exc}") from None
        if not isinstance(name, str) or not is_valid_key_name(name):
            raise WitnessFolderError(f"{self.config_file} names no valid witness")
        return name

    def signer(self, clock: Callable[[], float] = time.time) -> CosignatureSigner:
        name = self.name()
        try:
            key = SigningKey.load(self.key_file)
        except KeyFileError as exc:
            raise WitnessFolderError(str(exc)) from None
        return CosignatureSigner(name, key, clock)
