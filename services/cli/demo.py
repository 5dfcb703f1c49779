"""``govchain demo``: a scripted scenario on a throw-away platform, ending in a verified chain.

It plays what happens on a real deployment: the root authority names two checkpoint
witnesses (run here in-process, each with its own key, standing in for a court's and an audit
office's) and admits departments, the departments publish signed records, some bad events
arrive and are refused with reasons, a re-sent event is de-duplicated, and at the end the
chain is verified, a proof checked, and the newest checkpoint checked to be cosigned by both
witnesses and consistent with the chain.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import signal
import tempfile
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any

from rich.progress import Progress

from govchain.bus.blocks import last_height
from govchain.bus.connect import connect
from govchain.bus.subjects import block_sequence
from govchain.client import GovChainClient, LedgerQueryError
from govchain.config import Settings
from govchain.crypto import CREDENTIAL_SUITE, DEFAULT_SUITE, CryptoSuite, keeps_sha256_tree
from govchain.datadir import DataDir, credentials_key_name
from govchain.protocol import events as ev
from govchain.protocol.block import Block
from govchain.protocol.credentials import add_proof, make_credential
from govchain.protocol.did import did_for, verification_method_id
from govchain.protocol.envelope import Envelope, make_event
from govchain.protocol.keys import SigningKey
from govchain.protocol.proofs import inclusion_problem
from govchain.pseudonym import pseudonym
from govchain.services.cli.common import err_console, trusted_orderer_keys
from govchain.services.cli.identity import credentials_key_added
from govchain.services.cli.witness import check_witnessed, published_checkpoint, verify_chain_at
from govchain.services.contract import BUILTIN_CONTRACTS
from govchain.services.contract.audit import audit_contracts
from govchain.services.gateway.context import GATEWAY
from govchain.services.platform import LocalWitness, run_platform
from govchain.transparency.checkpoint import Tree, sha256_tree_origin
from govchain.transparency.errors import TransparencyError
from govchain.transparency.policy import verify_cosigned
from govchain.transparency.vkeys import Ed25519Signer

DEPARTMENTS = {"market-regulator": "Market Regulation Bureau", "land-bureau": "Land and Resources Bureau"}
DOCUMENTS_PER_DEPARTMENT = 5
DEMO_NATIONAL_ID = "110101199003074512"  # made-up national ids; only their pseudonyms reach the chain
DEMO_BUYER_NATIONAL_ID = "310104198807153021"
DEMO_WITNESSES = {"court": "court.demo.govchain.example/witness", "audit": "audit-office.demo.govchain.example/witness"}
"""Folder (under ``witnesses/`` of the data folder) → the witness's name."""
STOCK_WITNESS = ("stock", "transparency.demo.govchain.example/witness")
"""A gm chain's witness of its SHA-256 tree alone, run as any C2SP witness runs (folder, name)."""
WITNESS_WAIT_S = 30.0


async def run_demo(
    data: Path | None,
    *,
    keep: bool,
    quiet: bool,
    on_summary: Callable[[dict[str, Any]], None],
    crypto: str = DEFAULT_SUITE,
) -> dict[str, Any]:
    if data is not None:
        return await _demo_in(data, keep=keep, quiet=quiet, on_summary=on_summary, crypto=crypto)
    with tempfile.TemporaryDirectory(prefix="govchain-demo-") as tmp:
        return await _demo_in(Path(tmp), keep=False, quiet=quiet, on_summary=on_summary, crypto=crypto)


async def _demo_in(
    data: Path, *, keep: bool, quiet: bool, on_summary: Callable[[dict[str, Any]], None], crypto: str
) -> dict[str, Any]:
    settings = Settings(data_dir=data, nats_port=0, gateway_port=0, checkpoint_interval_ms=200)
    data_dir = DataDir(data)
    if not data_dir.is_initialised():
        data_dir.init(settings.chain or "govchain-demo", crypto=crypto)  # GOVCHAIN_CHAIN names a demo chain too
    origin = ev.default_log_origin(data_dir.genesis().data["chain_id"])
    log_vkey = Ed25519Signer(origin, data_dir.checkpoint_key()).verifier.vkey
    tree = data_dir.crypto_suite()  # a gm chain's checkpoints carry its SM3 root (docs/crypto-profiles.md)
    witnesses = [
        LocalWitness(data / "witnesses" / folder, name, [log_vkey], tree=tree)
        for folder, name in DEMO_WITNESSES.items()
    ]
    sha256_witnesses = []
    if keeps_sha256_tree(tree):  # a stock witness checks the SHA-256 tree, under its own origin
        sha256_vkey = Ed25519Signer(sha256_tree_origin(origin), data_dir.checkpoint_key()).verifier.vkey
        folder, name = STOCK_WITNESS
        sha256_witnesses.append(LocalWitness(data / "witnesses" / folder, name, [sha256_vkey]))
    stop = asyncio.Event()
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    platform = asyncio.create_task(run_platform(settings, stop, on_ready=ready.set_result))
    try:
        for witness in [*witnesses, *sha256_witnesses]:
            await witness.start()
        started: set[asyncio.Future[Any]] = {platform, ready}
        done, _ = await asyncio.wait(started, return_when=asyncio.FIRST_COMPLETED)
        if platform in done:
            platform.result()  # raises the start-up failure
        nats_url = ready.result()
        summary = await _scenario(settings, data_dir, nats_url, witnesses, sha256_witnesses, quiet=quiet)
        summary["portal_url"] = (data_dir.run_info() or {}).get("gateway_url")
        on_summary(summary)
        if keep:
            err_console.print(f"platform left running (NATS {nats_url}); press Ctrl-C to stop")
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await stop.wait()
        return summary
    finally:
        stop.set()
        await asyncio.gather(platform, return_exceptions=True)
        for witness in [*witnesses, *sha256_witnesses]:
            await witness.stop()


def _witness_set(witnesses: list[LocalWitness]) -> dict[str, Any]:
    """A witness policy's part naming ``witnesses``, every one of them required."""
    return {"witnesses": [{"name": w.name, "vkey": w.vkey, "url": w.url} for w in witnesses], "quorum": len(witnesses)}


def _stored_key(data_dir: DataDir, name: str, suite: CryptoSuite | None = None) -> SigningKey:
    """A key kept in the demo's data folder, so a --keep run can be driven by hand afterwards
    (of the chain's suite unless ``suite`` says otherwise)."""
    path = data_dir.key_file(name)
    if path.exists():
        return SigningKey.load(path)
    key = SigningKey.generate(data_dir.crypto_suite() if suite is None else suite)
    key.save(path)
    return key


class Scenario:
    """The demo's stages; each publishes through the real client and notes what it saw."""

    def __init__(
        self,
        client: GovChainClient,
        data_dir: DataDir,
        witnesses: list[LocalWitness],
        sha256_witnesses: list[LocalWitness],
    ) -> None:
        self.client = client
        self.data_dir = data_dir
        self.witnesses = witnesses
        self.sha256_witnesses = sha256_witnesses
        """A gm chain's witnesses of its SHA-256 tree (none on an intl chain, whose tree it is)."""
        self.root = data_dir.signing_key("root")
        self.suite = data_dir.crypto_suite()
        self.keys = {dept: _stored_key(data_dir, dept) for dept in DEPARTMENTS}
        self.committed: list[str] = []
        self.rejected: dict[str, str] = {}
        self.summary: dict[str, Any] = {"credentials_keys": {}}  # owner → Ed25519 key id (gm chains)

    @cached_property
    def buyer_id(self) -> str:
        """The demo buyer's pseudonym (the chain's keyed MAC of their national id), which several
        stages name."""
        return pseudonym(DEMO_BUYER_NATIONAL_ID, self.data_dir.pseudonym_key(), suite=self.suite)

    async def credentials_key(self, owner: str, signer: SigningKey) -> SigningKey:
        """The key ``owner`` signs W3C credentials with: ``eddsa-jcs-2022`` is Ed25519 on every
        chain, so its own key on an intl chain; on a gm chain an Ed25519 credentials key it
        registers, with the very event ``govchain identity add-credentials-key`` publishes, kept
        in ``keys/<owner>-credentials.pem`` where the gateway looks for its own (and named in
        the summary's ``credentials_keys`` once committed)."""
        if signer.suite is CREDENTIAL_SUITE:
            return signer
        key = _stored_key(self.data_dir, credentials_key_name(owner), CREDENTIAL_SUITE)
        receipt = await self.submit(credentials_key_added(signer, owner, key))
        if receipt["status"] == "committed":
            self.summary["credentials_keys"][owner] = key.key_id
        return key

    async def gateway_credentials_key(self) -> None:
        """On a gm chain the gateway registers its credentials key, so the portal's licence
        credentials are signed out of the box (an operator runs `govchain identity
        add-credentials-key --owner gateway`)."""
        await self.credentials_key(GATEWAY, self.data_dir.signing_key(GATEWAY))

    async def submit(self, envelope: Envelope) -> dict[str, Any]:
        receipt = await self.client.submit(envelope)
        if receipt["status"] == "committed":
            self.committed.append(envelope.id)
        else:
            self.rejected[envelope.id] = receipt["reason"]
        return receipt

    async def name_witnesses(self) -> None:
        """The root authority names two checkpoint witnesses, both required (2 of 2); on a gm
        chain also a stock witness of its SHA-256 tree (1 of 1)."""
        policy: dict[str, Any] = _witness_set(self.witnesses)
        if self.sha256_witnesses:
            policy["sha256"] = _witness_set(self.sha256_witnesses)
        await self.submit(make_event(self.root, source=ev.ROOT, type=ev.WITNESS_POLICY_TYPE, data=policy))

    async def admit_departments(self) -> None:
        """The root authority admits the departments."""
        for dept, name in DEPARTMENTS.items():
            await self.submit(
                make_event(
                    self.root,
                    source=ev.ROOT,
                    type="department.registered",
                    data={"department_id": dept, "name": name, "public_key": self.keys[dept].public.hex},
                )
            )

    async def register_documents(self) -> None:
        """Departments register document hashes, published together so they share blocks."""
        self.documents = [
            make_event(
                self.keys[dept],
                source=dept,
                type="document.registered",
                data={
                    "document_id": f"{dept}-{n}",
                    "sha256": hashlib.sha256(f"{dept} document {n}".encode()).hexdigest(),
                    "title": f"{DEPARTMENTS[dept]} record {n}",
                },
            )
            for dept in DEPARTMENTS
            for n in range(DOCUMENTS_PER_DEPARTMENT)
        ]
        await asyncio.gather(*(self.submit(doc) for doc in self.documents))

    async def refuse_bad_events(self) -> None:
        """A forged signature, a key not on chain, an invalid payload: each refused with a reason."""
        land = "land-bureau"
        genuine = make_event(
            self.keys[land],
            source=land,
            type="document.registered",
            data={"document_id": "forged", "sha256": "0" * 64, "title": "Forged deed"},
        )
        forged = genuine.model_copy(update={"data": {**genuine.data, "title": "Altered deed"}})
        stranger = make_event(
            SigningKey.generate(self.suite),
            source=land,
            type="document.registered",
            data={"document_id": "x", "sha256": "1" * 64, "title": "Unknown signer"},
        )
        invalid = make_event(
            self.keys[land],
            source=land,
            type="document.registered",
            data={"document_id": "no-hash", "title": "Missing hash"},
        )
        for bad in (forged, stranger, invalid):
            await self.submit(bad)

    async def resend(self) -> None:
        """A re-sent event is de-duplicated, never ordered twice."""
        again = self.documents[0]
        await self.client.publish(again)
        await self.client.wait_receipt(again.id, again.source)

    async def identities(self) -> None:
        """An official, a citizen under a pseudonym, a credential issued, verified and revoked."""
        land, market = "land-bureau", "market-regulator"
        registrar = _stored_key(self.data_dir, "land-registrar")
        await self.submit(
            make_event(
                self.keys[land],
                source=land,
                type="official.registered",
                data={
                    "official_id": "land-registrar",
                    "department_id": land,
                    "name": "Land registrar",
                    "public_key": registrar.public.hex,
                    "roles": ["registrar"],
                },
            )
        )
        await self.submit(
            make_event(
                registrar,
                source=land,
                type="document.registered",
                data={
                    "document_id": "deed-1",
                    "sha256": hashlib.sha256(b"deed 1").hexdigest(),
                    "title": "Title deed 1",
                },
            )
        )
        citizen_id = pseudonym(DEMO_NATIONAL_ID, self.data_dir.pseudonym_key(), suite=self.suite)
        citizen_key = _stored_key(self.data_dir, "citizen")
        await self.submit(
            make_event(
                self.keys[market],
                source=market,
                type="citizen.enrolled",
                data={"citizen_id": citizen_id, "public_key": citizen_key.public.hex},
            )
        )

        # Unauthorized: an official without the admin role registers a colleague; a
        # department tries to admit another department.
        unauthorized = [
            make_event(
                registrar,
                source=land,
                type="official.registered",
                data={
                    "official_id": "land-intruder",
                    "department_id": land,
                    "name": "Intruder",
                    "public_key": SigningKey.generate(self.suite).public.hex,
                },
            ),
            make_event(
                self.keys[market],
                source=market,
                type="department.registered",
                data={
                    "department_id": "shadow-office",
                    "name": "Shadow office",
                    "public_key": SigningKey.generate(self.suite).public.hex,
                },
            ),
        ]
        reasons = [(await self.submit(event)).get("reason") for event in unauthorized]

        issuer_key = await self.credentials_key(market, self.keys[market])
        credential = add_proof(
            make_credential(
                did_for(market),
                {"id": did_for(citizen_id), "licence": "street-vendor"},
                ["BusinessOperatorCredential"],
                credential_id=f"urn:govchain:demo:{citizen_id}",
            ),
            issuer_key,
            verification_method_id(market, issuer_key.key_id),
        )
        head = await self.client.head_height()
        valid = await self.client.verify_credential(credential, min_height=head)
        receipt = await self.submit(
            make_event(
                self.keys[market],
                source=market,
                type="credential.revoked",
                data={"credential_id": credential["id"], "reason": "demo"},
            )
        )
        revoked = await self.client.verify_credential(credential, min_height=receipt["height"])
        dids = [did_for(p) for p in (*DEPARTMENTS, "land-registrar", citizen_id)]
        resolved = [await self.client.resolve_did(did, min_height=receipt["height"]) for did in dids]
        self.summary.update(
            {
                "identities": sum(r["didDocument"] is not None for r in resolved),
                "citizen_id": citizen_id,
                "credential_valid": valid["valid"],
                "credential_revoked_detected": not revoked["valid"] and "revoked" in (revoked["reason"] or ""),
                "unauthorized_rejected": reasons.count("unauthorized"),
            }
        )

    async def registry(self) -> None:
        """A business and a parcel with sealed owner details, a transfer, an official's read, an erasure."""
        land, market = "land-bureau", "market-regulator"
        first_owner = self.summary["citizen_id"]
        buyer_key = _stored_key(self.data_dir, "buyer")
        buyer = self.buyer_id
        await self.submit(
            make_event(
                self.keys[market],
                source=market,
                type="citizen.enrolled",
                data={"citizen_id": buyer, "public_key": buyer_key.public.hex},
            )
        )

        async def sealed(dept: str, subject: str, record: str, details: dict[str, str]) -> dict[str, Any]:
            answer = await self.client.query(
                self.client.names.registry_seal,
                {
                    "subject": subject,
                    "record": record,
                    "fields": {"owner_details": details},
                },
                as_principal=(self.keys[dept], dept),
            )
            return dict(answer["sealed"]["owner_details"])

        business = {
            "business_id": "B-0001",
            "name": "Harbour Noodle House",
            "registration_no": "91310000MA1K00001X",
            "address": "12 Harbour Road",
            "activity": "catering",
            "owner": first_owner,
            "owner_details": await sealed(
                market,
                first_owner,
                "business.registered/B-0001",
                {"legal_name": "Li Ming", "phone": "+86 138 0000 0000"},
            ),
        }
        await self.submit(make_event(self.keys[market], source=market, type="business.registered", data=business))
        await self.submit(
            make_event(
                self.keys[market],
                source=market,
                type="license.issued",
                data={
                    "license_id": "L-0001",
                    "business_id": "B-0001",
                    "kind": "food service",
                    "valid_from": "2026-01-01",
                    "valid_until": "2028-12-31",
                },
            )
        )
        await self.submit(
            make_event(
                self.keys[land],
                source=land,
                type="land.parcel_registered",
                data={
                    "parcel_id": "P-0001",
                    "location": "Lot 7, Riverside District",
                    "area_m2": "532.50",
                    "land_use": "residential",
                    "owner": first_owner,
                    "owner_details": await sealed(land, first_owner, "land/P-0001", {"legal_name": "Li Ming"}),
                },
            )
        )
        receipt = await self.submit(
            make_event(
                self.keys[land],
                source=land,
                type="land.transferred",
                data={
                    "transfer_id": "T-0001",
                    "parcel_id": "P-0001",
                    "from_owner": first_owner,
                    "to_owner": buyer,
                    "consideration": "1850000.00",
                    "to_owner_details": await sealed(land, buyer, "land/P-0001", {"legal_name": "Zhao Hua"}),
                },
            )
        )
        at = receipt["height"]

        parcel = await self.client.query(self.client.names.registry_parcel, {"id": "P-0001", "min_height": at})
        document = await self.client.query(
            self.client.names.registry_document, {"sha256": self.documents[0].data["sha256"], "with_proofs": True}
        )
        unknown = await self.client.query(self.client.names.registry_document, {"sha256": "f" * 64})

        # The land registrar reads the new owner's details, stating why: the read goes on chain.
        registrar = (_stored_key(self.data_dir, "land-registrar"), "land-registrar")
        read = await self.client.query(
            self.client.names.registry_parcel,
            {"id": "P-0001", "purpose": "verify the transfer deed"},
            as_principal=registrar,
        )
        head = await self.client.head_height()
        log = await self.client.query(
            self.client.names.registry_access_log,
            {"subject": buyer, "min_height": head},
            as_principal=(buyer_key, buyer),
        )

        # The buyer asks to be forgotten: their data key is destroyed; the chain still verifies.
        erased = await self.submit(
            make_event(
                buyer_key,
                source=buyer,
                type="personal_data.erased",
                data={"subject": buyer, "reason": "right to erasure"},
            )
        )
        after = await self.client.query(
            self.client.names.registry_parcel,
            {"id": "P-0001", "purpose": "verify the transfer deed", "min_height": erased["height"]},
            as_principal=registrar,
        )
        self.summary.update(
            {
                "land_transfers": len(parcel["history"]),
                "document_verified": document["registered"]
                and not unknown["registered"]
                and all(p["event_id"] for p in document["proofs"]),
                "official_read_owner": read["personal"]["owner_details"] == {"legal_name": "Zhao Hua"},
                "access_log_entries": len(log["entries"]),
                "erased_unreadable": after["personal"]["owner_details"] == {"erased": True},
            }
        )

    async def contracts(self) -> None:
        """Both shipped contracts: a licence issued automatically, a land transfer approved 2 of 2."""
        land, market = "land-bureau", "market-regulator"
        for name in ("business-license", "land-transfer"):
            definition = json.loads(BUILTIN_CONTRACTS[name].read_text())
            await self.submit(
                make_event(self.root, source=ev.ROOT, type="contract.deployed", data={"definition": definition})
            )
        owner = self.summary["citizen_id"]
        owner_key = _stored_key(self.data_dir, "citizen")
        await self.submit(
            make_event(
                owner_key,
                source=owner,
                type="license.applied",
                data={
                    "application_id": "APP-0001",
                    "applicant": owner,
                    "business_id": "B-0001",
                    "kind": "food service",
                    "documents": [self.documents[0].data["sha256"], self.documents[1].data["sha256"]],
                },
            )
        )
        buyer = self.buyer_id
        await self.submit(
            make_event(
                self.keys[land],
                source=land,
                type="land.transfer_requested",
                data={
                    "request_id": "REQ-0001",
                    "parcel_id": "P-0001",
                    "from_owner": buyer,
                    "to_owner": owner,
                    "consideration": "1900000.00",
                    "approvers": [land, market],
                    "required": 2,
                },
            )
        )
        for dept in (land, market):
            await self.submit(
                make_event(self.keys[dept], source=dept, type="land.transfer_approved", data={"request_id": "REQ-0001"})
            )
        licence = await self._settled("business-license", "APP-0001", {"issued", "rejected"})
        transfer = await self._settled("land-transfer", "REQ-0001", {"recorded", "expired", "refused"})
        for case in (licence, transfer):
            for result in case["results"]:
                await self.client.wait_receipt(result["event_id"], "contract-engine")
        audit = await audit_contracts(self.client.nc.jetstream(), names=self.client.names)
        self.summary.update(
            {
                "licenses_issued": int(licence["state"] == "issued"),
                "land_transfers_approved": int(transfer["state"] == "recorded"),
                "contracts_audit_ok": audit.ok and audit.checked >= 2,
            }
        )

    async def _settled(self, contract_id: str, key: str, final: set[str], timeout: float = 30) -> dict[str, Any]:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            try:
                case = await self.client.request(
                    self.client.names.contract_case,
                    {"contract_id": contract_id, "case_key": key, "min_height": await self.client.head_height()},
                )
                if case["state"] in final:
                    return case
            except LedgerQueryError:
                pass  # not opened yet
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"case {key} of {contract_id} did not settle")
            await asyncio.sleep(0.1)

    # --- issue 14: evaluating the platform, data sharing between departments (one step) -------

    async def evaluation_and_sharing(self) -> None:
        """Ratings, cost savings and a data set shared under a grant."""

        land, market = "land-bureau", "market-regulator"
        citizen = self.summary["citizen_id"]
        citizen_key = _stored_key(self.data_dir, "citizen")
        buyer_key = _stored_key(self.data_dir, "buyer")
        buyer = self.buyer_id

        # Data sharing: the land bureau asks for the market regulator's business register; the
        # contract grants it on the regulator's approval; the land registrar reads under it.
        await self.submit(
            make_event(
                self.keys[market],
                source=market,
                type="dataset.published",
                data={
                    "dataset_id": "registered-businesses",
                    "title": "Registered businesses",
                    "description": "Businesses this bureau registered, with their owners' sealed details",
                    "fields": ["business_id", "name", "address", "owner_details"],
                    "access": "departments",
                    "readers": [land],
                    "source": "businesses",
                },
            )
        )
        await self.submit(
            make_event(
                self.root,
                source=ev.ROOT,
                type="contract.deployed",
                data={"definition": json.loads(BUILTIN_CONTRACTS["data-sharing"].read_text())},
            )
        )
        await self.submit(
            make_event(
                self.keys[land],
                source=land,
                type="dataset.access_requested",
                data={
                    "request_id": "DS-0001",
                    "dataset_id": "registered-businesses",
                    "holder": market,
                    "purpose": "check the seller's businesses before a land transfer",
                    "fields": ["name", "owner_details"],
                    "duration_days": 30,
                    "approvers": [market],
                    "required": 1,
                },
            )
        )
        await self.submit(
            make_event(self.keys[market], source=market, type="dataset.access_approved", data={"request_id": "DS-0001"})
        )
        case = await self._settled("data-sharing", "DS-0001", {"granted", "refused", "expired"})
        for result in case["results"]:
            await self.client.wait_receipt(result["event_id"], "contract-engine")
        registrar = (_stored_key(self.data_dir, "land-registrar"), "land-registrar")
        head = await self.client.head_height()
        grants = await self.client.query(
            self.client.names.registry_grants, {"min_height": head}, as_principal=(self.keys[land], land)
        )
        read = await self.client.query(
            self.client.names.registry_dataset_read,
            {"request_id": "DS-0001", "min_height": head},
            as_principal=registrar,
        )
        try:
            await self.client.query(
                self.client.names.registry_dataset_read,
                {"request_id": "DS-0001", "fields": ["address"]},
                as_principal=registrar,
            )
            out_of_scope_refused = False
        except LedgerQueryError as exc:
            out_of_scope_refused = exc.code == "out_of_scope"
        log = await self.client.query(
            self.client.names.registry_access_log,
            {"subject": citizen, "min_height": await self.client.head_height()},
            as_principal=(citizen_key, citizen),
        )

        # Satisfaction: the applicant rates the licence case (a sealed comment); the buyer's
        # rating of a case that is not theirs is kept as void, with the reason.
        sealed = await self.client.query(
            self.client.names.registry_seal,
            {
                "subject": citizen,
                "record": "case.rated/business-license/APP-0001",
                "fields": {"comment": "办理很快 (quick and clear)"},
            },
            as_principal=(citizen_key, citizen),
        )
        await self.submit(
            make_event(
                citizen_key,
                source=citizen,
                type="case.rated",
                data={
                    "service_type": "business-license",
                    "case_id": "APP-0001",
                    "score": 5,
                    "comment": sealed["sealed"]["comment"],
                },
            )
        )
        last = await self.submit(
            make_event(
                buyer_key,
                source=buyer,
                type="case.rated",
                data={"service_type": "business-license", "case_id": "APP-0001", "score": 1},
            )
        )
        analytics = await self.client.request(self.client.names.analytics_summary, {"min_height": last["height"]})
        satisfaction, costs = analytics["satisfaction"], analytics["costs"]
        self.summary.update(
            {
                "satisfaction_ratings": sum(s["ratings"] for s in satisfaction["by_service_type"]),
                "satisfaction_refused": dict(satisfaction["void_by_reason"]),
                "cost_savings_computed": costs["total_cases"] > 0 and costs["total_saving"] > 0,
                "cost_saving_cny": costs["total_saving"],
                "data_shares_granted": sum(g["status"] == "granted" for g in grants["grants"]),
                "data_share_read_logged": any(e["record"].startswith("dataset/") for e in log["entries"])
                and bool(read["records"]),
                "data_share_out_of_scope_refused": out_of_scope_refused,
            }
        )

    # --- end of issue 14 step ------------------------------------------------------------------

    async def verify(self, settings: Settings) -> None:
        """Verify the whole chain, one inclusion proof against the signed head, and the newest
        checkpoint: cosigned by the witnesses and consistent with the verified chain."""
        js = self.client.nc.jetstream()
        record = await self._witnessed(await self.client.head())
        found = await verify_chain_at(
            js,
            {} if record is None else {"chain": int(record["size"])},
            genesis_hash=settings.genesis_hash,
            names=self.client.names,
        )
        report = found.report
        witnessed = check_witnessed(record, found.at.get("chain"), report.events)
        answer = await self.client.inclusion_proof(self.documents[-1].id)
        proof_problem = inclusion_problem(answer, trusted_orderer_keys(settings))
        unique = list(dict.fromkeys(self.committed))
        self.summary.update(
            {
                "chain_ok": report.ok,
                "blocks": await last_height(js, self.client.names) + 1,
                "events": report.events,
                "rejected": len(self.rejected),
                "rejection_reasons": sorted(set(self.rejected.values())),
                "duplicates_ordered": len(self.committed) - len(unique),
                "proof_verified": proof_problem is None,
                "witnessed_checkpoint": witnessed.ok,
                "witness_cosignatures": len(witnessed.cosigners),
                "witnessed_size": witnessed.size,
                "committed_event_ids": unique,
            }
        )
        if not witnessed.ok:
            self.summary["witnessed_problems"] = witnessed.problems
        if self.sha256_witnesses:
            self.summary.update(await self._sha256_witnessed(await self.client.head()))

    async def _witnessed(
        self, head: dict[str, Any], *, tree: Tree = "chain", wanted: int | None = None
    ) -> dict[str, Any] | None:
        """The published checkpoint of ``tree`` once it covers the log as of ``head`` with
        ``wanted`` cosignatures (default: every witness of the chain's tree; the ledger gathers
        them within a round or two), or the newest one there is."""
        size = head["header"]["log_size"]
        wanted = len(self.witnesses) if wanted is None else wanted
        deadline = asyncio.get_running_loop().time() + WITNESS_WAIT_S
        while True:
            record = await published_checkpoint(self.client, tree=tree)
            if record is not None and record["size"] >= size and len(record["cosigners"]) >= wanted:
                return record
            if asyncio.get_running_loop().time() > deadline:
                return record
            await asyncio.sleep(0.1)

    async def _sha256_witnessed(self, head: dict[str, Any]) -> dict[str, Any]:
        """A gm chain's SHA-256 checkpoint as a stock witness's user checks it: the log's
        signature under ``<origin>/sha256``, every stock witness's cosignature, and its size and
        root those that the SM2-signed header of its block carries (``log_root_sha256``)."""
        wanted = len(self.sha256_witnesses)
        record = await self._witnessed(head, tree="sha256", wanted=wanted)
        if record is None:
            return {"sha256_witnessed": False, "sha256_witness_cosignatures": 0}
        log_vkeys = [vkey for w in self.sha256_witnesses for vkey in w.log_vkeys]  # the tree's, as they trust it
        try:
            cosigned = verify_cosigned(
                str(record["note"]).encode(), log_vkeys, [w.vkey for w in self.sha256_witnesses], wanted
            )
        except TransparencyError:
            return {"sha256_witnessed": False, "sha256_witness_cosignatures": 0}
        found = await self.client.nc.jetstream().get_msg(
            self.client.names.blocks_stream, block_sequence(int(record["height"])), direct=True
        )
        header = Block.from_bytes(found.data or b"").header
        bound = (header.log_size, header.log_root_sha256) == (cosigned.checkpoint.size, cosigned.checkpoint.root.hex())
        return {"sha256_witnessed": bound, "sha256_witness_cosignatures": len(cosigned.witnesses)}


async def _scenario(
    settings: Settings,
    data_dir: DataDir,
    nats_url: str,
    witnesses: list[LocalWitness],
    sha256_witnesses: list[LocalWitness],
    *,
    quiet: bool,
) -> dict[str, Any]:
    nc = await connect(nats_url, settings, name="govchain-demo")
    scenario = Scenario(GovChainClient(nc, names=settings.chain_names), data_dir, witnesses, sha256_witnesses)
    stages = [
        scenario.name_witnesses,
        scenario.admit_departments,
        scenario.register_documents,
        scenario.refuse_bad_events,
        scenario.resend,
        scenario.identities,
        scenario.gateway_credentials_key,
        scenario.registry,
        scenario.contracts,
        scenario.evaluation_and_sharing,
    ]
    try:
        with Progress(console=err_console, transient=True, disable=quiet) as progress:
            task = progress.add_task("demo scenario", total=len(stages) + 1)
            for stage in stages:
                progress.update(task, description=(stage.__doc__ or stage.__name__).split(",")[0][:50])
                await stage()
                progress.advance(task)
            await scenario.verify(settings)
            progress.advance(task)
    finally:
        await nc.drain()
    summary = scenario.summary
    checks = (
        "chain_ok",
        "proof_verified",
        "credential_valid",
        "credential_revoked_detected",
        "document_verified",
        "official_read_owner",
        "erased_unreadable",
        "contracts_audit_ok",
        "witnessed_checkpoint",
    )
    ok = all(summary[c] for c in checks) and summary["duplicates_ordered"] == 0
    ok = ok and summary.get("sha256_witnessed", not sha256_witnesses)
    return {
        "ok": ok,
        "chain_id": data_dir.genesis().data["chain_id"],
        "crypto": data_dir.crypto_suite().name,
        "nats_url": nats_url,
        "data_dir": str(data_dir.root),
        **summary,
    }
