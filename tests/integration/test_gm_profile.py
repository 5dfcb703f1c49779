"""A 国密 (gm) chain end to end: ``govchain init --crypto gm``, the platform ordering and signing
with SM2 and SM3, the command line publishing, proving and verifying, and the demo's whole
scenario (identity, credentials, registry with SM4-GCM sealed fields, contracts, witnesses).

What is checked here beside the commands' own verdicts is checked independently: block hashes,
leaf hashes and inclusion paths recomputed with SM3 (and shown *not* to be SHA-256's), the
orderer's signature verified as SM2 with the default ID, and what the data folder holds."""

from __future__ import annotations

import asyncio
import json
import os
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from govchain.bus.blocks import follow_blocks, last_height
from govchain.bus.connect import connect
from govchain.client import GovChainClient, LedgerQueryError, verify_witnessed
from govchain.crypto import GM, INTL
from govchain.crypto.sm2 import sm3
from govchain.protocol.block import Block
from govchain.protocol.canonical import canonical_bytes, sha256_hex
from govchain.protocol.envelope import Envelope
from govchain.protocol.genesis import genesis_payload
from govchain.protocol.keys import PublicKey, SigningKey
from govchain.protocol.merkle import verify_inclusion
from govchain.protocol.state import ChainState
from govchain.pseudonym import pseudonym

from .cli_platform import govchain_up
from .test_cli import busy_port, govchain, write_json  # noqa: F401  (busy_port is a fixture)

pytestmark = pytest.mark.skipif(not GM.available, reason="the gm profile needs gmssl-pyx (x86-64 wheels only)")


@pytest.fixture
def gm_platform(tmp_path: Path, busy_port: int) -> Any:  # noqa: F811
    """``govchain init --crypto gm`` then ``govchain up``; yields the data folder and init's answer."""
    data = tmp_path / "node"
    info = json.loads(govchain("init", "--data", str(data), "--chain-id", "gm-test", "--crypto", "gm", "--json").stdout)
    env = {**os.environ, "GOVCHAIN_BATCH_MAX_WAIT_MS": "50"}
    with govchain_up(data, busy_port, env, timeout_s=90):
        yield data, info


def test_init_writes_a_gm_chain(tmp_path: Path) -> None:
    data = tmp_path / "node"
    info = json.loads(govchain("init", "--data", str(data), "--crypto", "gm", "--json").stdout)
    assert info["crypto"] == "gm" and "checkpoint_key_id" in info
    genesis = json.loads((data / "genesis.json").read_text())
    assert genesis["data"]["crypto_profile"] == "gm"
    orderer = SigningKey.load(data / "keys" / "orderer.pem")
    assert orderer.suite is GM and len(orderer.public.raw) == 65
    assert genesis["data"]["orderer_keys"] == [orderer.public.hex]
    assert orderer.key_id == sm3(orderer.public.raw).hex()  # key ids are SM3 of the 65-byte point
    checkpoint = SigningKey.load(data / "keys" / "checkpoint.pem")  # Ed25519, for C2SP checkpoints
    assert checkpoint.suite is INTL and genesis["data"]["checkpoint_key"] == checkpoint.public.hex
    assert (data / "keys" / "vault.kek").read_text().startswith("sm4-gcm:")  # a 16-byte SM4 KEK
    refused = govchain("init", "--data", str(tmp_path / "other"), "--crypto", "rsa", check=False)
    assert refused.returncode != 0 and "--crypto" in refused.stderr
    # an intl chain's genesis is as it always was: no crypto_profile field
    govchain("init", "--data", str(tmp_path / "intl"))
    assert "crypto_profile" not in json.loads((tmp_path / "intl" / "genesis.json").read_text())["data"]


def test_a_gm_chain_from_the_command_line(gm_platform: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    platform, info = gm_platform
    data = str(platform)
    key_file = tmp_path / "tax.pem"
    key_info = json.loads(govchain("keygen", str(key_file), "--data", data, "--json").stdout)
    assert len(key_info["public_key"]) == 130  # the chain's profile: an SM2 key
    register = write_json(
        tmp_path / "register.json",
        {
            "source": "root",
            "type": "department.registered",
            "data": {"department_id": "tax", "name": "Tax Bureau", "public_key": key_info["public_key"]},
        },
    )
    receipt = json.loads(
        govchain("publish", str(register), "--key", f"{data}/keys/root.pem", "--data", data, "--json").stdout
    )
    assert receipt["status"] == "committed"
    document = write_json(
        tmp_path / "doc.json",
        {
            "source": "tax",
            "type": "document.registered",
            "id": "tax-doc-1",
            "data": {"document_id": "T-1", "sha256": "ab" * 32, "title": "Tax clearance"},
        },
    )
    receipt = json.loads(govchain("publish", str(document), "--key", str(key_file), "--data", data, "--json").stdout)
    assert receipt["status"] == "committed"
    docs = tmp_path / "docs.json"
    docs.write_text(
        json.dumps(
            [
                {
                    "source": "tax",
                    "type": "document.registered",
                    "id": f"tax-batch-{n}",
                    "data": {"document_id": f"TB-{n}", "sha256": f"{n:064x}", "title": f"Batch {n}"},
                }
                for n in range(3)
            ]
        )
    )
    batch = govchain("publish-batch", str(docs), "--key", str(key_file), "--data", data, "--json")
    assert batch.stdout.count('"committed"') >= 3, batch.stdout

    # Credentials stay eddsa-jcs-2022 (Ed25519): the SM2 key cannot issue one; a credentials key can.
    subject = json.dumps({"id": "did:govchain:c-" + "ab" * 16, "clearance": "paid"})
    issue = ["credential", "issue", "--issuer", "tax", "--type", "TaxClearanceCredential", "--subject", subject]
    refused = govchain(*issue, "--key", str(key_file), check=False)
    assert refused.returncode != 0 and "add-credentials-key" in (refused.stdout + refused.stderr)
    vc_key = tmp_path / "tax-vc.pem"
    added = govchain(
        "identity", "add-credentials-key", "--owner", "tax", "--key", str(key_file), "--new-key", str(vc_key),
        "--data", data, "--json",
    )  # fmt: skip
    assert json.loads(added.stdout)["status"] == "committed"
    assert SigningKey.load(vc_key).suite is INTL
    credential = tmp_path / "credential.json"
    govchain(*issue, "--key", str(vc_key), "--id", "urn:govchain:tax:TC-1", "--out", str(credential))
    verdict = govchain("credential", "verify", str(credential), "--data", data, "--json", check=False)
    assert json.loads(verdict.stdout)["valid"] is True, verdict.stdout
    vc_doc = write_json(tmp_path / "vc-doc.json", {**json.loads(document.read_text()), "id": "tax-doc-vc"})
    signed_by_vc_key = govchain("publish", str(vc_doc), "--key", str(vc_key), "--data", data, check=False)
    assert signed_by_vc_key.returncode == 1 and "unauthorized" in signed_by_vc_key.stdout  # it signs no event

    # Personal data is sealed with SM4-GCM under a 16-byte data key (the vault's KEK is SM4 too).
    sealed = json.loads(
        govchain(
            "registry", "seal", '{"legal_name": "Li Ming"}', "--subject", "c-" + "ab" * 16,
            "--record", "business.registered/B-0001", "--as", str(key_file), "--principal", "tax", "--data", data,
        ).stdout
    )  # fmt: skip
    assert sealed["enc"] == "sm4-gcm" and sealed["subject"] == "c-" + "ab" * 16

    # An Ed25519 key is refused on a gm chain, with its reason.
    stranger = SigningKey.generate(INTL)
    intl_key = write_json(
        tmp_path / "intl.json",
        {
            "source": "root",
            "type": "department.registered",
            "data": {"department_id": "land", "name": "Land", "public_key": stranger.public.hex},
        },
    )
    refused = govchain("publish", str(intl_key), "--key", f"{data}/keys/root.pem", "--data", data, check=False)
    assert refused.returncode == 1 and "invalid_payload" in refused.stdout

    proof = json.loads(govchain("proof", "tax/tax-doc-1", "--data", data, "--json").stdout)
    verify = json.loads(govchain("verify", "--data", data, "--json").stdout)
    assert verify["ok"] is True and verify["crypto"] == "gm" and verify["events"] == 1 + 1 + 1 + 3 + 1
    batch_proof = json.loads(govchain("proof", "tax/tax-batch-2", "--data", data, "--json").stdout)

    # The portal checks SM2/SM3 in the browser too (static/gm.js; tests/web/test_gm_browser.py runs it).
    run_info = json.loads((platform / "run.json").read_text())
    with urllib.request.urlopen(f"{run_info['gateway_url']}/events/tax/tax-doc-1?lang=en", timeout=30) as page:
        html = page.read().decode()
    assert 'data-crypto="gm"' in html and "/static/verify.js" in html and 'data-state="unavailable"' not in html

    blocks = asyncio.run(_blocks(run_info["nats_url"]))
    orderer = PublicKey.from_hex(json.loads((platform / "genesis.json").read_text())["data"]["orderer_keys"][0])
    for block in blocks:  # block hash: SM3 over RFC 8785 of the header; SM2 signature of it
        assert block.hash == sm3(canonical_bytes(block.header.model_dump())).hex()
        assert block.hash != sha256_hex(canonical_bytes(block.header.model_dump()))
        assert GM.verify(orderer.key, bytes.fromhex(block.hash), bytes.fromhex(block.signature))
    assert blocks[0].hash == info["genesis_hash"]
    for answer in (proof, batch_proof):
        head = next(b for b in blocks if b.height == answer["block_height"])
        leaves = [leaf for b in blocks[: head.height + 1] for leaf in b.leaf_hashes(GM)]
        assert leaves[answer["leaf_index"]].hex() == answer["leaf_hash"]
        event = next(e for b in blocks for e in b.events if e["id"] == answer["event_id"])
        assert sm3(b"\x00" + canonical_bytes(event)).hex() == answer["leaf_hash"]  # RFC 9162 leaf, SM3
        path = [bytes.fromhex(p) for p in answer["path"]]
        args = (bytes.fromhex(answer["leaf_hash"]), answer["leaf_index"], answer["tree_size"], path)
        assert verify_inclusion(*args, bytes.fromhex(answer["root"]), GM)
        assert answer["root"] == head.header.log_root
        if path:
            assert not verify_inclusion(*args, bytes.fromhex(answer["root"]))  # SHA-256 does not lead there


async def _blocks(nats_url: str) -> list[Block]:
    nc = await connect(nats_url, name="gm-test")
    try:
        newest = await last_height(nc.jetstream())
        return [Block.from_bytes(raw) async for _, raw in follow_blocks(nc.jetstream(), 0, to_height=newest)]
    finally:
        await nc.drain()


def test_the_demo_runs_on_a_gm_chain(tmp_path: Path) -> None:
    """Identity (DIDs with SM2 Multikeys, an Ed25519 credential key beside SM2 event keys),
    registry (SM4-GCM sealed fields, HMAC-SM3 pseudonyms, erasure), contracts, witnesses (an
    Ed25519 checkpoint key; two witnesses check SM3 consistency, a stock one the SHA-256 tree's),
    verify and a proof."""
    data = tmp_path / "demo"
    summary = json.loads(govchain("demo", "--json", "--crypto", "gm", "--data", str(data), timeout=240).stdout)
    assert summary["ok"] is True and summary["crypto"] == "gm"
    assert summary["chain_ok"] and summary["proof_verified"] and summary["contracts_audit_ok"]
    assert summary["credential_valid"] and summary["credential_revoked_detected"]
    assert summary["official_read_owner"] and summary["erased_unreadable"] and summary["document_verified"]
    assert summary["witnessed_checkpoint"] and summary["witness_cosignatures"] == 2
    assert summary["witnessed_size"] == summary["events"]  # witnesses kept up with the SM3 log
    # a stock witness of the SHA-256 tree cosigned too, its root the one the SM2-signed header carries
    assert summary["sha256_witnessed"] is True and summary["sha256_witness_cosignatures"] == 1
    assert summary["rejection_reasons"] == ["bad_signature", "invalid_payload", "unauthorized", "unknown_key"]

    # the gateway's credentials key is registered, where its gateway looks (the portal's licence
    # credentials: tests/web/test_gm_browser.py); both Ed25519, as eddsa-jcs-2022 requires
    keys = {
        owner: SigningKey.load(data / "keys" / f"{owner}-credentials.pem") for owner in ("gateway", "market-regulator")
    }
    assert summary["credentials_keys"] == {owner: key.key_id for owner, key in keys.items()}
    assert all(key.suite is INTL for key in keys.values())

    key = bytes.fromhex((data / "keys" / "pseudonym.key").read_text().strip())
    assert summary["citizen_id"] == pseudonym("110101199003074512", key, suite=GM)  # HMAC-SM3
    assert summary["citizen_id"] != pseudonym("110101199003074512", key, suite=INTL)


def test_a_gm_chain_resumes_after_a_restart(tmp_path: Path, busy_port: int) -> None:  # noqa: F811
    """The orderer and the projections resume from their stored checkpoints (an SM3 frontier, a
    gm chain state), not by replaying: a second start goes on signing and verifying."""
    data = tmp_path / "node"
    govchain("init", "--data", str(data), "--chain-id", "gm-restart", "--crypto", "gm")
    env = {**os.environ, "GOVCHAIN_BATCH_MAX_WAIT_MS": "50"}
    key_info = json.loads(govchain("keygen", str(tmp_path / "tax.pem"), "--data", str(data), "--json").stdout)
    register = write_json(
        tmp_path / "register.json",
        {
            "source": "root",
            "type": "department.registered",
            "data": {"department_id": "tax", "name": "Tax Bureau", "public_key": key_info["public_key"]},
        },
    )
    root = str(data / "keys" / "root.pem")
    with govchain_up(data, busy_port, env, timeout_s=90):
        assert (
            json.loads(govchain("publish", str(register), "--key", root, "--data", str(data), "--json").stdout)[
                "status"
            ]
            == "committed"
        )
    for n in range(2):
        doc = write_json(
            tmp_path / f"doc{n}.json",
            {
                "source": "tax",
                "type": "document.registered",
                "data": {"document_id": f"T-{n}", "sha256": f"{n:064x}", "title": f"Record {n}"},
            },
        )
        with govchain_up(data, busy_port, env, timeout_s=90):
            receipt = govchain("publish", str(doc), "--key", str(tmp_path / "tax.pem"), "--data", str(data), "--json")
            assert json.loads(receipt.stdout)["status"] == "committed"
            verify = json.loads(govchain("verify", "--data", str(data), "--json").stdout)
            assert verify["ok"] and verify["crypto"] == "gm" and verify["events"] == 2 + n + 1


def test_the_ledger_takes_a_gm_chains_checkpoint_key_from_its_setting(tmp_path: Path, busy_port: int) -> None:  # noqa: F811
    """A container's ledger folder holds no ``keys/checkpoint.pem`` (``govchain custody split``
    copies the orderer key only): ``GOVCHAIN_CHECKPOINT_KEY`` hands it over, and the checkpoints
    the ledger publishes are signed by the key genesis names."""
    data = tmp_path / "node"
    govchain("init", "--data", str(data), "--chain-id", "gm-checkpoint-secret", "--crypto", "gm")
    file = data / "keys" / "checkpoint.pem"
    env = {**os.environ, "GOVCHAIN_CHECKPOINT_KEY": file.read_text(), "GOVCHAIN_CHECKPOINT_INTERVAL_MS": "100"}
    file.unlink()
    with govchain_up(data, busy_port, env, timeout_s=90):
        nats_url = json.loads((data / "run.json").read_text())["nats_url"]
        record = asyncio.run(_first_checkpoint(nats_url))
    state = ChainState.from_genesis(genesis_payload(Envelope.model_validate_json((data / "genesis.json").read_text())))
    verified = verify_witnessed(record["note"].encode(), state)  # no witness policy yet: the log's signature
    assert verified.checkpoint.size == record["size"] >= 1


async def _first_checkpoint(nats_url: str, timeout_s: float = 30) -> dict[str, Any]:
    nc = await connect(nats_url, name="gm-test")
    deadline = asyncio.get_running_loop().time() + timeout_s
    try:
        while True:
            try:
                return await GovChainClient(nc).checkpoint()
            except LedgerQueryError:
                if asyncio.get_running_loop().time() > deadline:
                    raise
            await asyncio.sleep(0.1)
    finally:
        await nc.drain()
