"""The data folder of a real ``govchain up``, read as someone else on the host, or a thief
with a copy of it, would: after ``govchain registry erase`` nothing on disk (database, its
-wal and -shm, NATS store, logs) holds the person's data key, wrapped or not, nor their
personal values; every file and folder is 0600 / 0700; and ``govchain vault rotate-kek``
makes a backup taken before it useless.

One platform run for the whole story (starting it costs seconds)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from govchain.bus import subjects
from govchain.bus.connect import connect
from govchain.client import GovChainClient
from govchain.datadir import DataDir
from govchain.privacy.custody import open_vault
from govchain.privacy.fields import SealedField
from govchain.privacy.kek import KekError
from govchain.protocol.envelope import make_event
from govchain.protocol.keys import SigningKey
from govchain.storage.engine import make_engine

from .cli_platform import GOVCHAIN, govchain_up
from .disk import find, needles_of, shared_modes

OWNER = "c-" + "5a" * 16
BUYER = "c-" + "5b" * 16
OWNER_DETAILS = {"legal_name": "Qian Xiaoyu", "phone": "+86 139 1234 5678"}
BUYER_DETAILS = {"legal_name": "Sun Meilin", "phone": "+86 137 8765 4321"}
PUBLIC_NAME = "Harbour Noodle House"


@dataclass
class People:
    owner_key: Path
    buyer_field: dict[str, Any]
    height: int


async def populate(data: Path, keys: Path) -> People:
    """A department, two citizens, and a business for each, owner details sealed."""
    node = DataDir(data)
    nc = await connect(str(node.run_info()["nats_url"]))  # type: ignore[index]
    client = GovChainClient(nc)
    root, market = node.signing_key("root"), SigningKey.generate()
    citizens = {OWNER: SigningKey.generate(), BUYER: SigningKey.generate()}
    height = 0

    async def commit(key: SigningKey, source: str, type: str, payload: dict[str, Any]) -> None:
        nonlocal height
        receipt = await client.submit(make_event(key, source=source, type=type, data=payload))
        assert receipt["status"] == "committed", receipt
        height = receipt["height"]

    async def sealed(subject: str, record: str, details: dict[str, str]) -> dict[str, Any]:
        answer = await client.query(
            subjects.REGISTRY_SEAL,
            {
                "subject": subject,
                "record": record,
                "fields": {"owner_details": details},
                "min_height": height,
            },
            as_principal=(market, "market"),
        )
        return dict(answer["sealed"]["owner_details"])

    try:
        await commit(
            root,
            "root",
            "department.registered",
            {"department_id": "market", "name": "Market", "public_key": market.public.hex},
        )
        fields = {}
        for n, (citizen, details) in enumerate(((OWNER, OWNER_DETAILS), (BUYER, BUYER_DETAILS)), start=1):
            await commit(
                market,
                "market",
                "citizen.enrolled",
                {"citizen_id": citizen, "public_key": citizens[citizen].public.hex},
            )
            fields[citizen] = await sealed(citizen, f"business.registered/B-{n}", details)
            await commit(
                market,
                "market",
                "business.registered",
                {
                    "business_id": f"B-{n}",
                    "name": PUBLIC_NAME if n == 1 else "Second Shop",
                    "registration_no": f"91310000{n}",
                    "address": "12 Harbour Road",
                    "activity": "catering",
                    "owner": citizen,
                    "owner_details": fields[citizen],
                },
            )
        mine = await client.query(
            subjects.REGISTRY_BUSINESS, {"id": "B-1", "min_height": height}, as_principal=(citizens[OWNER], OWNER)
        )
        assert mine["personal"]["owner_details"] == OWNER_DETAILS  # readable before the erasure
    finally:
        await nc.drain()
    citizens[OWNER].save(keys / "owner.pem")
    return People(keys / "owner.pem", fields[BUYER], height)


async def wait_until_erased(data: Path, owner_key: Path, height: int, timeout_s: float = 10) -> None:
    """Until the registry answers the owner "erased" (asked again: a projection's height moves
    when its block is verified, a moment before the block's transaction commits)."""
    nc = await connect(str(DataDir(data).run_info()["nats_url"]))  # type: ignore[index]
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            answer = await GovChainClient(nc).query(
                subjects.REGISTRY_BUSINESS,
                {"id": "B-1", "min_height": height},
                as_principal=(SigningKey.load(owner_key), OWNER),
            )
            if answer["personal"]["owner_details"] == {"erased": True} or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
        assert answer["personal"]["owner_details"] == {"erased": True}
    finally:
        await nc.drain()


def vault_row(db: Path, subject: str) -> tuple[str, bytes]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
        kek_id, wrapped = conn.execute(
            "SELECT kek_id, wrapped_key FROM privacy_subject_keys WHERE subject = ?", (subject,)
        ).fetchone()
    return kek_id, bytes(wrapped)


def wait_for_no_trace(data: Path, secrets: dict[str, Any], timeout_s: float = 10) -> dict[str, list[str]]:
    """The registry scrubs right after its erasing block commits; allow it that moment."""
    deadline = time.monotonic() + timeout_s
    while (found := find(data, secrets)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return found


def an_old_data_folder(data: Path) -> None:
    """A folder as versions before the vault KEK left it: no keys/vault.kek, loose modes."""
    node = DataDir(data)
    node.init("private-files")
    node.vault_kek_files.current.unlink()
    os.chmod(data, 0o755)
    os.chmod(node.genesis_file, 0o644)


def test_an_erased_person_leaves_no_trace_on_disk_and_every_file_is_private(tmp_path: Path) -> None:
    data = tmp_path / "node"
    an_old_data_folder(data)
    db = data / "db" / "registry.db"
    env = {**os.environ, "GOVCHAIN_BATCH_MAX_WAIT_MS": "20", "GOVCHAIN_GATEWAY_PORT": "0"}
    with socket.socket() as holder:  # its preferred NATS port taken: never a well-known one
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        with govchain_up(data, holder.getsockname()[1], env):
            assert shared_modes(data) == {}  # older files tightened, new ones (run.json, NATS, databases) born private
            people = asyncio.run(populate(data, tmp_path))
            kek = DataDir(data).vault_kek_files.load_current()  # made on first use for the old folder
            kek_id, wrapped = vault_row(db, OWNER)
            assert kek_id == kek.id
            data_key = kek.unwrap(wrapped, subject=OWNER, key_version=1)
            secrets = {
                "data key": needles_of(data_key),
                "wrapped key": needles_of(wrapped),
                "legal name": OWNER_DETAILS["legal_name"].encode(),
                "phone": OWNER_DETAILS["phone"].encode(),
            }
            seen = find(data, {**secrets, "public name": PUBLIC_NAME.encode()})
            # The scan reads the vault and the NATS store; personal values and keys are never there in clear.
            assert set(seen) == {"wrapped key", "public name"}, seen
            assert any(path.startswith("nats/") for path in seen["public name"])
            backup = tmp_path / "backup"
            backup.mkdir()
            for path in db.parent.glob("registry.db*"):
                shutil.copy(path, backup / path.name)

            erased = subprocess.run(
                [*GOVCHAIN, "registry", "erase", OWNER, "--key", str(people.owner_key), "--data", str(data), "--json"],
                capture_output=True,
                text=True,
                timeout=90,
            )
            assert erased.returncode == 0, erased.stderr
            asyncio.run(wait_until_erased(data, people.owner_key, json.loads(erased.stdout)["height"]))
            assert wait_for_no_trace(data, secrets) == {}  # while the platform still runs
            assert shared_modes(data) == {}
        assert find(data, secrets) == {}
        assert shared_modes(data) == {}

    # The backup taken before rotating still opens the buyer's live key with the KEK of then...
    _, backup_wrapped = vault_row(backup / "registry.db", BUYER)
    buyer_key = kek.unwrap(backup_wrapped, subject=BUYER, key_version=1)
    rotated = subprocess.run(
        [*GOVCHAIN, "vault", "rotate-kek", "--data", str(data), "--json"], capture_output=True, text=True, timeout=90
    )
    assert rotated.returncode == 0, rotated.stderr
    report = json.loads(rotated.stdout)
    assert report["old_kek_id"] == kek.id and report["rewrapped"] == 1  # the buyer's: the owner's is gone
    # ... and not after: the old KEK is nowhere in the folder, and the new one does not open it.
    new_kek = DataDir(data).vault_kek_files.load_current()
    assert new_kek.id == report["new_kek_id"] != kek.id
    assert find(data, {"old KEK": kek.hex().encode()}) == {}
    try:
        new_kek.unwrap(backup_wrapped, subject=BUYER, key_version=1)
        raise AssertionError("the new KEK opened a key from a backup taken before the rotation")
    except KekError:
        pass
    engine = make_engine(f"sqlite:///{db}")
    try:
        vault = open_vault(engine, data / "keys")
        assert vault.key_for_opening(BUYER, 1) == buyer_key
        assert (
            vault.open_for(SealedField.model_validate(people.buyer_field), "business.registered/B-2/owner_details")
            == BUYER_DETAILS
        )
    finally:
        engine.dispose()
    assert shared_modes(data) == {}
