"""``govchain registry ...`` run as a user would, against a platform started by ``govchain up``.

One platform for the module (starting it costs seconds on two cores). The records are
put on chain through the SDK, as a department's system would; every command under test
runs as a subprocess and its printed output is checked.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from govchain.bus import subjects
from govchain.bus.connect import connect
from govchain.client import GovChainClient
from govchain.datadir import DataDir
from govchain.protocol.envelope import make_event
from govchain.protocol.eventref import event_ref
from govchain.protocol.genesis import genesis_payload
from govchain.protocol.keys import SigningKey
from govchain.protocol.proofs import inclusion_problem
from govchain.protocol.state import ChainState

from .cli_platform import GOVCHAIN, govchain_up

OWNER = "c-" + "0a" * 16
BUYER = "c-" + "0b" * 16
STRANGER = "c-" + "0c" * 16


def govchain(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*GOVCHAIN, *args], capture_output=True, text=True, timeout=timeout)


@dataclass
class Platform:
    data: Path
    keys: dict[str, Path] = field(default_factory=dict)

    def registry(self, *args: str, as_: str | None = None, json_out: bool = True) -> subprocess.CompletedProcess[str]:
        signed = ["--as", str(self.keys[as_]), "--principal", as_] if as_ is not None else []
        return govchain("registry", *args, *signed, "--data", str(self.data), *(["--json"] if json_out else []))

    def ok(self, *args: str, as_: str | None = None) -> dict[str, Any]:
        result = self.registry(*args, as_=as_)
        assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
        return dict(json.loads(result.stdout))

    def refused(self, *args: str, as_: str | None = None) -> str:
        """The error code of a refused query; it must exit 2 with a typed error, never data."""
        result = self.registry(*args, as_=as_)
        assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
        answer = json.loads(result.stdout)
        assert set(answer) == {"error", "code"}, answer
        assert f"error: {answer['code']}:" in " ".join(result.stderr.split()) and "Traceback" not in result.stderr
        return str(answer["code"])


async def populate(data: Path, keys: dict[str, Path]) -> None:
    """Departments, officials, citizens, a business, parcels, data sets: as in test_registry."""
    node = DataDir(data)
    nc = await connect(str(node.run_info()["nats_url"]))  # type: ignore[index]
    client = GovChainClient(nc)
    signing: dict[str, SigningKey] = {"root": node.signing_key("root")}

    async def commit(signer: str, source: str, type: str, payload: dict[str, Any]) -> None:
        receipt = await client.submit(make_event(signing[signer], source=source, type=type, data=payload))
        assert receipt["status"] == "committed", receipt

    async def sealed(dept: str, subject: str, record: str, details: dict[str, str]) -> dict[str, Any]:
        answer = await client.query(
            subjects.REGISTRY_SEAL,
            {
                "subject": subject,
                "record": record,
                "fields": {"owner_details": details},
                "min_height": await client.head_height(),
            },
            as_principal=(signing[dept], dept),
        )
        return dict(answer["sealed"]["owner_details"])

    def new_key(name: str) -> SigningKey:
        signing[name] = SigningKey.generate()
        keys[name] = data.parent / f"{name}.pem"
        signing[name].save(keys[name])
        return signing[name]

    try:
        for dept in ("market", "land", "audit"):
            await commit(
                "root",
                "root",
                "department.registered",
                {"department_id": dept, "name": dept.title(), "public_key": new_key(dept).public.hex},
            )
        for official, dept in (("market-clerk", "market"), ("land-clerk", "land"), ("auditor-1", "audit")):
            await commit(
                dept,
                dept,
                "official.registered",
                {
                    "official_id": official,
                    "department_id": dept,
                    "name": official,
                    "public_key": new_key(official).public.hex,
                    "roles": [],
                },
            )
        await commit("root", "root", "role.granted", {"principal": "auditor-1", "role": "auditor"})
        for citizen in (OWNER, BUYER, STRANGER):
            await commit(
                "market",
                "market",
                "citizen.enrolled",
                {"citizen_id": citizen, "public_key": new_key(citizen).public.hex},
            )
        await commit(
            "market",
            "market",
            "business.registered",
            {
                "business_id": "B-1",
                "name": "Harbour Noodle House",
                "registration_no": "913100001",
                "address": "12 Harbour Road",
                "activity": "catering",
                "owner": OWNER,
                "owner_details": await sealed("market", OWNER, "business.registered/B-1", {"legal_name": "Li Ming"}),
            },
        )
        await commit(
            "market",
            "market",
            "license.issued",
            {
                "license_id": "L-1",
                "business_id": "B-1",
                "kind": "food service",
                "valid_from": "2026-01-01",
                "valid_until": "2027-12-31",
            },
        )
        await commit(
            "land",
            "land",
            "land.parcel_registered",
            {
                "parcel_id": "P-1",
                "location": "Lot 7",
                "area_m2": "532.50",
                "land_use": "residential",
                "owner": OWNER,
                "owner_details": await sealed("land", OWNER, "land/P-1", {"legal_name": "Li Ming"}),
            },
        )
        await commit(
            "land",
            "land",
            "land.transferred",
            {
                "transfer_id": "T-1",
                "parcel_id": "P-1",
                "from_owner": OWNER,
                "to_owner": BUYER,
                "consideration": "1000000.00",
                "to_owner_details": await sealed("land", BUYER, "land/P-1", {"legal_name": "Zhao Hua"}),
            },
        )
        await commit(
            "land",
            "land",
            "land.parcel_registered",
            {
                "parcel_id": "P-2",
                "location": "Lot 9",
                "area_m2": "80.00",
                "land_use": "farm",
                "owner": STRANGER,
                "owner_details": await sealed("land", STRANGER, "land/P-2", {"legal_name": "Wang Fang"}),
            },
        )
        await commit(
            "land",
            "land",
            "land.parcel_registered",
            {"parcel_id": "P-3", "location": "Lot 10", "area_m2": "10.00", "land_use": "farm", "owner": OWNER},
        )
        for dataset_id, access, readers in (
            ("open-permits", "public", []),
            ("tax-arrears", "departments", ["land"]),
            ("audit-trail", "auditors", []),
        ):
            await commit(
                "market",
                "market",
                "dataset.published",
                {
                    "dataset_id": dataset_id,
                    "title": dataset_id.replace("-", " "),
                    "description": "",
                    "fields": ["a"],
                    "access": access,
                    "readers": readers,
                },
            )
    finally:
        await nc.drain()


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """``govchain up`` (its preferred NATS port taken, so never a well-known one), populated."""
    root = tmp_path_factory.mktemp("registry-cli")
    data = root / "node"
    assert govchain("init", "--data", str(data), "--chain-id", "registry-cli").returncode == 0
    env = {**os.environ, "GOVCHAIN_BATCH_MAX_WAIT_MS": "50", "GOVCHAIN_GATEWAY_PORT": "0"}
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        with govchain_up(data, holder.getsockname()[1], env):
            handle = Platform(data)
            asyncio.run(populate(data, handle.keys))
            yield handle


def _ref(proof: dict[str, Any]) -> str:
    """How registry rows name an event: source/id."""
    return event_ref(proof["source"], proof["event_id"])


def assert_proofs_verify(platform: Platform, answer: dict[str, Any], events: int) -> None:
    """``events`` proofs, of distinct events, each leading to the log root of a head the orderer signed."""
    genesis = genesis_payload(DataDir(platform.data).genesis())
    orderer = {r.key_id: r.public_key for r in ChainState.from_genesis(genesis).keys.values() if r.owner == "ledger"}
    proofs = answer["proofs"]
    assert len(proofs) == events and len({proof["event_id"] for proof in proofs}) == events
    for proof in proofs:
        assert proof["root"] == proof["head"]["header"]["log_root"]
        assert inclusion_problem(proof, orderer) is None, proof["event_id"]


def test_every_listing_carries_proofs_when_asked(platform: Platform) -> None:
    assert_proofs_verify(platform, platform.ok("search", "noodle", "--proofs"), 1)
    assert_proofs_verify(platform, platform.ok("departments", "--proofs"), 3)
    assert_proofs_verify(platform, platform.ok("catalog", "--proofs"), 1)  # the one public data set
    assert_proofs_verify(platform, platform.ok("catalog", "--proofs", as_="auditor-1"), 3)
    parcel = platform.ok("parcel", "P-1", "--proofs")
    assert_proofs_verify(platform, parcel, 2)  # the registration and transfer T-1
    assert parcel["history"][0]["event_id"] in {_ref(proof) for proof in parcel["proofs"]}
    platform.ok("business", "B-1", "--purpose", "licence renewal", as_="market-clerk")
    log = platform.ok("access-log", OWNER, "--proofs", as_=OWNER)
    assert log["entries"]
    assert_proofs_verify(platform, log, len(log["entries"]))
    assert {_ref(proof) for proof in log["proofs"]} == {entry["event_id"] for entry in log["entries"]}
    assert "proofs" not in platform.ok("departments")


def test_business_shows_each_caller_its_layer(platform: Platform) -> None:
    public = platform.ok("business", "B-1", "--proofs")
    assert public["visibility"] == "public"
    assert public["record"] == {
        "business_id": "B-1",
        "name": "Harbour Noodle House",
        "registration_no": "913100001",
        "address": "12 Harbour Road",
        "activity": "catering",
        "department": "market",
    }
    assert [(lic["license_id"], lic["status"]) for lic in public["licenses"]] == [("L-1", "valid")]
    assert "personal" not in public and len(public["proofs"]) == 2  # the registration and licence L-1
    assert all(proof["event_height"] <= public["as_of_height"] for proof in public["proofs"])
    assert_proofs_verify(platform, public, 2)

    own = platform.ok("business", "B-1", as_=OWNER)
    assert own["record"]["owner"] == OWNER and own["personal"] == {"owner_details": {"legal_name": "Li Ming"}}
    auditor = platform.ok("business", "B-1", as_="auditor-1")
    assert auditor["visibility"] == "auditor" and "personal" not in auditor
    assert platform.refused("business", "B-404") == "not_found"

    text = platform.registry("business", "B-1", json_out=False)
    assert text.returncode == 0 and "Harbour Noodle House" in text.stdout


def test_parcel_history_and_a_refused_purpose_read(platform: Platform) -> None:
    public = platform.ok("parcel", "P-1")
    assert public["record"]["location"] == "Lot 7" and "owner" not in public["record"]
    assert [(tx["transfer_id"], tx["consideration"]) for tx in public["history"]] == [("T-1", "1000000.00")]
    assert "from_owner" not in public["history"][0]

    # The review's case: a purpose but no identity, or an officer of another department, is
    # refused, never answered with empty personal data, whatever the record holds.
    for parcel in ("P-1", "P-3"):  # sealed owner details, and none
        assert platform.refused("parcel", parcel, "--purpose", "check it") == "forbidden"
        assert platform.refused("parcel", parcel, "--purpose", "check it", as_="market-clerk") == "forbidden"
    assert platform.refused("parcel", "P-1", "--purpose", " ", as_="land-clerk") == "purpose_required"

    officer = platform.ok("parcel", "P-1", "--purpose", "check the deed", as_="land-clerk")
    assert officer["visibility"] == "officer" and officer["record"]["owner"] == BUYER
    assert [(tx["from_owner"], tx["to_owner"]) for tx in officer["history"]] == [(OWNER, BUYER)]
    assert officer["personal"] == {"owner_details": {"legal_name": "Zhao Hua"}}  # the new owner's, sealed anew
    none_sealed = platform.ok("parcel", "P-3", "--purpose", "check the deed", as_="land-clerk")
    assert none_sealed["personal"] == {"owner_details": None}


def test_search_finds_businesses_by_name(platform: Platform) -> None:
    found = platform.ok("search", "noodle")
    assert [r["business_id"] for r in found["records"]] == ["B-1"]
    assert "owner" not in found["records"][0] and found["visibility"] == "public"
    assert platform.ok("search", "bakery")["records"] == []


def test_catalog_shows_each_reader_what_it_may_read(platform: Platform) -> None:
    def ids(as_: str | None) -> list[str]:
        return [d["dataset_id"] for d in platform.ok("catalog", as_=as_)["datasets"]]

    assert ids(None) == ["open-permits"]
    assert ids("land-clerk") == ["open-permits", "tax-arrears"]
    assert ids("auditor-1") == ["audit-trail", "open-permits", "tax-arrears"]
    assert ids(STRANGER) == ["open-permits"]


def test_access_log_lists_official_reads_to_the_person_and_auditors_only(platform: Platform) -> None:
    platform.ok("business", "B-1", "--purpose", "licence renewal", as_="market-clerk")
    log = platform.ok("access-log", OWNER, as_=OWNER)
    assert log["subject"] == OWNER
    entries = [(e["reader"], e["reader_department"], e["purpose"], e["record"]) for e in log["entries"]]
    assert ("market-clerk", "market", "licence renewal", "business.registered/B-1") in entries
    assert all(e["reader"] != OWNER for e in log["entries"])  # one's own reads are not logged
    assert platform.ok("access-log", OWNER, as_="auditor-1")["entries"] == log["entries"]
    assert platform.refused("access-log", OWNER, as_=STRANGER) == "forbidden"
    assert platform.refused("access-log", OWNER, as_="market-clerk") == "forbidden"
    missing = govchain("registry", "access-log", OWNER, "--data", str(platform.data))
    assert missing.returncode == 2 and "--as" in missing.stderr  # a log is never shown unsigned


def test_erase_shreds_the_subjects_data_and_keeps_refusing_strangers(platform: Platform) -> None:
    read = platform.ok("parcel", "P-2", "--purpose", "check the deed", as_="land-clerk")
    assert read["personal"] == {"owner_details": {"legal_name": "Wang Fang"}}

    wrong_key = govchain(
        "registry", "erase", STRANGER, "--key", str(platform.keys[OWNER]), "--data", str(platform.data), "--json"
    )
    assert wrong_key.returncode == 1 and json.loads(wrong_key.stdout)["status"] == "rejected"

    erased = govchain(
        "registry",
        "erase",
        STRANGER,
        "--key",
        str(platform.keys[STRANGER]),
        "--reason",
        "right to erasure",
        "--data",
        str(platform.data),
        "--json",
    )
    assert erased.returncode == 0, erased.stderr
    receipt = json.loads(erased.stdout)
    assert receipt["status"] == "committed" and receipt["height"] >= 1

    assert platform.ok("parcel", "P-2", "--purpose", "check the deed", as_="land-clerk")["personal"] == {
        "owner_details": {"erased": True}
    }
    assert platform.ok("parcel", "P-2", as_=STRANGER)["personal"] == {"owner_details": {"erased": True}}
    # Erasure changes nothing for those who may not read: still a refusal, not {"erased": true}.
    assert platform.refused("parcel", "P-2", "--purpose", "check it") == "forbidden"
    assert platform.refused("parcel", "P-2", "--purpose", "check it", as_="market-clerk") == "forbidden"
    # The public record stays, and the person still sees who read their data before.
    assert platform.ok("parcel", "P-2")["record"]["location"] == "Lot 9"
    log = platform.ok("access-log", STRANGER, as_=STRANGER)
    assert [(e["reader"], e["purpose"], e["record"]) for e in log["entries"]] == [
        ("land-clerk", "check the deed", "land/P-2")
    ]
    assert "Wang Fang" not in json.dumps(log)
    verify = json.loads(govchain("verify", "--data", str(platform.data), "--json").stdout)
    assert verify["ok"] is True and verify["first_bad_height"] is None
