"""``govchain demo``: a scripted scenario on a throw-away platform, ending in a verified chain.

It plays what happens on a real deployment: the root authority admits departments, the
departments publish signed records, some bad events arrive and are refused with reasons,
a re-sent event is de-duplicated, and at the end the chain is verified and a proof checked.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import signal
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.progress import Progress

from govchain.audit import verify_chain
from govchain.bus import subjects
from govchain.bus.blocks import last_height
from govchain.bus.connect import connect
from govchain.client import GovChainClient, LedgerQueryError
from govchain.config import Settings
from govchain.datadir import DataDir
from govchain.protocol import events as ev
from govchain.protocol.envelope import Envelope, make_event
from govchain.protocol.credentials import add_proof, make_credential
from govchain.protocol.did import did_for, verification_method_id
from govchain.protocol.keys import SigningKey
from govchain.pseudonym import pseudonym
from govchain.protocol.proofs import inclusion_problem
from govchain.services.cli.common import err_console, trusted_orderer_keys
from govchain.services.contract import BUILTIN_CONTRACTS
from govchain.services.contract.audit import audit_contracts
from govchain.services.platform import run_platform

DEPARTMENTS = {"market-regulator": "Market Regulation Bureau", "land-bureau": "Land and Resources Bureau"}
DOCUMENTS_PER_DEPARTMENT = 5
DEMO_NATIONAL_ID = "110101199003074512"  # made-up national ids; only their pseudonyms reach the chain
DEMO_BUYER_NATIONAL_ID = "310104198807153021"


async def run_demo(
    data: Path | None, *, keep: bool, quiet: bool, on_summary: Callable[[dict[str, Any]], None]
) -> dict[str, Any]:
    if data is not None:
        return await _demo_in(data, keep=keep, quiet=quiet, on_summary=on_summary)
    with tempfile.TemporaryDirectory(prefix="govchain-demo-") as tmp:
        return await _demo_in(Path(tmp), keep=False, quiet=quiet, on_summary=on_summary)


async def _demo_in(
    data: Path, *, keep: bool, quiet: bool, on_summary: Callable[[dict[str, Any]], None]
) -> dict[str, Any]:
    settings = Settings(data_dir=data, nats_port=0, gateway_port=0)
    data_dir = DataDir(data)
    if not data_dir.is_initialised():
        data_dir.init("govchain-demo")
    stop = asyncio.Event()
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    platform = asyncio.create_task(run_platform(settings, stop, on_ready=ready.set_result))
    try:
        done, _ = await asyncio.wait({platform, ready}, return_when=asyncio.FIRST_COMPLETED)
        if platform in done:
            platform.result()  # raises the start-up failure
        nats_url = ready.result()
        summary = await _scenario(settings, data_dir, nats_url, quiet=quiet)
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


def _stored_key(data_dir: DataDir, name: str) -> SigningKey:
    """A key kept in the demo's data folder, so a --keep run can be driven by hand afterwards."""
    path = data_dir.key_file(name)
    if path.exists():
        return SigningKey.load(path)
    key = SigningKey.generate()
    key.save(path)
    return key


class Scenario:
    """The demo's stages; each publishes through the real client and notes what it saw."""

    def __init__(self, client: GovChainClient, data_dir: DataDir) -> None:
        self.client = client
        self.data_dir = data_dir
        self.root = data_dir.signing_key("root")
        self.keys = {dept: _stored_key(data_dir, dept) for dept in DEPARTMENTS}
        self.committed: list[str] = []
        self.rejected: dict[str, str] = {}
        self.summary: dict[str, Any] = {}

    async def submit(self, envelope: Envelope) -> dict[str, Any]:
        receipt = await self.client.submit(envelope)
        if receipt["status"] == "committed":
            self.committed.append(envelope.id)
        else:
            self.rejected[envelope.id] = receipt["reason"]
        return receipt

    async def admit_departments(self) -> None:
        """The root authority admits the departments."""
        for dept, name in DEPARTMENTS.items():
            await self.submit(make_event(
                self.root, source=ev.ROOT, type="department.registered",
                data={"department_id": dept, "name": name, "public_key": self.keys[dept].public.hex},
            ))

    async def register_documents(self) -> None:
        """Departments register document hashes, published together so they share blocks."""
        self.documents = [
            make_event(
                self.keys[dept], source=dept, type="document.registered",
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
        genuine = make_event(self.keys[land], source=land, type="document.registered",
                             data={"document_id": "forged", "sha256": "0" * 64, "title": "Forged deed"})
        forged = genuine.model_copy(update={"data": {**genuine.data, "title": "Altered deed"}})
        stranger = make_event(SigningKey.generate(), source=land, type="document.registered",
                              data={"document_id": "x", "sha256": "1" * 64, "title": "Unknown signer"})
        invalid = make_event(self.keys[land], source=land, type="document.registered",
                             data={"document_id": "no-hash", "title": "Missing hash"})
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
        await self.submit(make_event(self.keys[land], source=land, type="official.registered", data={
            "official_id": "land-registrar", "department_id": land, "name": "Land registrar",
            "public_key": registrar.public.hex, "roles": ["registrar"],
        }))
        await self.submit(make_event(registrar, source=land, type="document.registered", data={
            "document_id": "deed-1", "sha256": hashlib.sha256(b"deed 1").hexdigest(), "title": "Title deed 1",
        }))
        citizen_id = pseudonym(DEMO_NATIONAL_ID, self.data_dir.pseudonym_key())
        citizen_key = _stored_key(self.data_dir, "citizen")
        await self.submit(make_event(self.keys[market], source=market, type="citizen.enrolled",
                                     data={"citizen_id": citizen_id, "public_key": citizen_key.public.hex}))

        # Unauthorized: an official without the admin role registers a colleague; a
        # department tries to admit another department.
        unauthorized = [
            make_event(registrar, source=land, type="official.registered", data={
                "official_id": "land-intruder", "department_id": land, "name": "Intruder",
                "public_key": SigningKey.generate().public.hex}),
            make_event(self.keys[market], source=market, type="department.registered", data={
                "department_id": "shadow-office", "name": "Shadow office",
                "public_key": SigningKey.generate().public.hex}),
        ]
        reasons = [(await self.submit(event)).get("reason") for event in unauthorized]

        credential = add_proof(
            make_credential(did_for(market), {"id": did_for(citizen_id), "licence": "street-vendor"},
                            ["BusinessOperatorCredential"], credential_id=f"urn:govchain:demo:{citizen_id}"),
            self.keys[market], verification_method_id(market, self.keys[market].key_id),
        )
        head = await self.client.head_height()
        valid = await self.client.verify_credential(credential, min_height=head)
        receipt = await self.submit(make_event(self.keys[market], source=market, type="credential.revoked",
                                               data={"credential_id": credential["id"], "reason": "demo"}))
        revoked = await self.client.verify_credential(credential, min_height=receipt["height"])
        dids = [did_for(p) for p in (*DEPARTMENTS, "land-registrar", citizen_id)]
        resolved = [await self.client.resolve_did(did, min_height=receipt["height"]) for did in dids]
        self.summary.update({
            "identities": sum(r["didDocument"] is not None for r in resolved),
            "citizen_id": citizen_id,
            "credential_valid": valid["valid"],
            "credential_revoked_detected": not revoked["valid"] and "revoked" in (revoked["reason"] or ""),
            "unauthorized_rejected": reasons.count("unauthorized"),
        })

    async def registry(self) -> None:
        """A business and a parcel with sealed owner details, a transfer, an official's read, an erasure."""
        land, market = "land-bureau", "market-regulator"
        first_owner = self.summary["citizen_id"]
        buyer_key = _stored_key(self.data_dir, "buyer")
        buyer = pseudonym(DEMO_BUYER_NATIONAL_ID, self.data_dir.pseudonym_key())
        await self.submit(make_event(self.keys[market], source=market, type="citizen.enrolled",
                                     data={"citizen_id": buyer, "public_key": buyer_key.public.hex}))

        async def sealed(dept: str, subject: str, record: str, details: dict[str, str]) -> dict[str, Any]:
            answer = await self.client.query(subjects.REGISTRY_SEAL, {
                "subject": subject, "record": record, "fields": {"owner_details": details},
            }, as_principal=(self.keys[dept], dept))
            return dict(answer["sealed"]["owner_details"])

        business = {
            "business_id": "B-0001", "name": "Harbour Noodle House", "registration_no": "91310000MA1K00001X",
            "address": "12 Harbour Road", "activity": "catering", "owner": first_owner,
            "owner_details": await sealed(market, first_owner, "business.registered/B-0001",
                                          {"legal_name": "Li Ming", "phone": "+86 138 0000 0000"}),
        }
        await self.submit(make_event(self.keys[market], source=market, type="business.registered", data=business))
        await self.submit(make_event(self.keys[market], source=market, type="license.issued", data={
            "license_id": "L-0001", "business_id": "B-0001", "kind": "food service",
            "valid_from": "2026-01-01", "valid_until": "2028-12-31"}))
        await self.submit(make_event(self.keys[land], source=land, type="land.parcel_registered", data={
            "parcel_id": "P-0001", "location": "Lot 7, Riverside District", "area_m2": "532.50",
            "land_use": "residential", "owner": first_owner,
            "owner_details": await sealed(land, first_owner, "land/P-0001", {"legal_name": "Li Ming"})}))
        receipt = await self.submit(make_event(self.keys[land], source=land, type="land.transferred", data={
            "transfer_id": "T-0001", "parcel_id": "P-0001", "from_owner": first_owner, "to_owner": buyer,
            "consideration": "1850000.00",
            "to_owner_details": await sealed(land, buyer, "land/P-0001", {"legal_name": "Zhao Hua"})}))
        at = receipt["height"]

        parcel = await self.client.query(subjects.REGISTRY_PARCEL, {"id": "P-0001", "min_height": at})
        document = await self.client.query(subjects.REGISTRY_DOCUMENT, {
            "sha256": self.documents[0].data["sha256"], "with_proofs": True})
        unknown = await self.client.query(subjects.REGISTRY_DOCUMENT, {"sha256": "f" * 64})

        # The land registrar reads the new owner's details, stating why: the read goes on chain.
        registrar = (_stored_key(self.data_dir, "land-registrar"), "land-registrar")
        read = await self.client.query(subjects.REGISTRY_PARCEL, {
            "id": "P-0001", "purpose": "verify the transfer deed"}, as_principal=registrar)
        head = await self.client.head_height()
        log = await self.client.query(subjects.REGISTRY_ACCESS_LOG, {"subject": buyer, "min_height": head},
                                      as_principal=(buyer_key, buyer))

        # The buyer asks to be forgotten: their data key is destroyed; the chain still verifies.
        erased = await self.submit(make_event(buyer_key, source=buyer, type="personal_data.erased",
                                              data={"subject": buyer, "reason": "right to erasure"}))
        after = await self.client.query(subjects.REGISTRY_PARCEL, {
            "id": "P-0001", "purpose": "verify the transfer deed", "min_height": erased["height"]},
            as_principal=registrar)
        self.summary.update({
            "land_transfers": len(parcel["history"]),
            "document_verified": document["registered"] and not unknown["registered"]
                                 and all(p["event_id"] for p in document["proofs"]),
            "official_read_owner": read["personal"]["owner_details"] == {"legal_name": "Zhao Hua"},
            "access_log_entries": len(log["entries"]),
            "erased_unreadable": after["personal"]["owner_details"] == {"erased": True},
        })

    async def contracts(self) -> None:
        """Both shipped contracts: a licence issued automatically, a land transfer approved 2 of 2."""
        land, market = "land-bureau", "market-regulator"
        for name in ("business-license", "land-transfer"):
            definition = json.loads(BUILTIN_CONTRACTS[name].read_text())
            await self.submit(make_event(self.root, source=ev.ROOT, type="contract.deployed",
                                         data={"definition": definition}))
        owner = self.summary["citizen_id"]
        owner_key = _stored_key(self.data_dir, "citizen")
        await self.submit(make_event(owner_key, source=owner, type="license.applied", data={
            "application_id": "APP-0001", "applicant": owner, "business_id": "B-0001", "kind": "food service",
            "documents": [self.documents[0].data["sha256"], self.documents[1].data["sha256"]]}))
        buyer = pseudonym(DEMO_BUYER_NATIONAL_ID, self.data_dir.pseudonym_key())
        await self.submit(make_event(self.keys[land], source=land, type="land.transfer_requested", data={
            "request_id": "REQ-0001", "parcel_id": "P-0001", "from_owner": buyer, "to_owner": owner,
            "consideration": "1900000.00", "approvers": [land, market], "required": 2}))
        for dept in (land, market):
            await self.submit(make_event(self.keys[dept], source=dept, type="land.transfer_approved",
                                         data={"request_id": "REQ-0001"}))
        licence = await self._settled("business-license", "APP-0001", {"issued", "rejected"})
        transfer = await self._settled("land-transfer", "REQ-0001", {"recorded", "expired", "refused"})
        for case in (licence, transfer):
            for result in case["results"]:
                await self.client.wait_receipt(result["event_id"], "contract-engine")
        audit = await audit_contracts(self.client.nc.jetstream())
        self.summary.update({
            "licenses_issued": int(licence["state"] == "issued"),
            "land_transfers_approved": int(transfer["state"] == "recorded"),
            "contracts_audit_ok": audit.ok and audit.checked >= 2,
        })

    async def _settled(self, contract_id: str, key: str, final: set[str], timeout: float = 30) -> dict[str, Any]:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            try:
                case = await self.client.request(subjects.CONTRACT_CASE, {
                    "contract_id": contract_id, "case_key": key, "min_height": await self.client.head_height()})
                if case["state"] in final:
                    return case
            except LedgerQueryError:
                pass  # not opened yet
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"case {key} of {contract_id} did not settle")
            await asyncio.sleep(0.1)

    async def verify(self, settings: Settings) -> None:
        """Verify the whole chain and one inclusion proof against the signed head."""
        js = self.client.nc.jetstream()
        report = await verify_chain(js, genesis_hash=settings.genesis_hash)
        answer = await self.client.inclusion_proof(self.documents[-1].id)
        proof_problem = inclusion_problem(answer, trusted_orderer_keys(settings))
        unique = list(dict.fromkeys(self.committed))
        self.summary.update({
            "chain_ok": report.ok,
            "blocks": await last_height(js) + 1,
            "events": report.events,
            "rejected": len(self.rejected),
            "rejection_reasons": sorted(set(self.rejected.values())),
            "duplicates_ordered": len(self.committed) - len(unique),
            "proof_verified": proof_problem is None,
            "committed_event_ids": unique,
        })


async def _scenario(settings: Settings, data_dir: DataDir, nats_url: str, *, quiet: bool) -> dict[str, Any]:
    nc = await connect(nats_url, settings, name="govchain-demo")
    scenario = Scenario(GovChainClient(nc), data_dir)
    stages = [scenario.admit_departments, scenario.register_documents, scenario.refuse_bad_events,
              scenario.resend, scenario.identities, scenario.registry, scenario.contracts]
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
    checks = ("chain_ok", "proof_verified", "credential_valid", "credential_revoked_detected",
              "document_verified", "official_read_owner", "erased_unreadable", "contracts_audit_ok")
    ok = all(summary[c] for c in checks) and summary["duplicates_ordered"] == 0
    return {
        "ok": ok,
        "chain_id": data_dir.genesis().data["chain_id"],
        "nats_url": nats_url,
        "data_dir": str(data_dir.root),
        **summary,
    }
