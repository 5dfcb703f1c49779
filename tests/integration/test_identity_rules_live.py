"""The identity rules the unit tests cover, once more through a running ledger on real NATS:
roles granted and revoked, the on-chain policy changed, services admitted, officials
registered only by their own department's admin. Each verdict is read off a receipt."""

from __future__ import annotations

from typing import Any

from govchain.protocol import events as ev
from govchain.protocol.envelope import make_event
from govchain.protocol.keys import SigningKey

from .conftest import Ledger


async def verdict(ledger: Ledger, signer: SigningKey, source: str, type: str, data: dict[str, Any]) -> tuple[str, str]:
    receipt = await ledger.submit(make_event(signer, source=source, type=type, data=data))
    return receipt["status"], receipt.get("reason") or ""


def document(n: int) -> dict[str, Any]:
    return {"document_id": f"doc-{n}", "sha256": f"{n:064x}", "title": f"Record {n}"}


async def test_a_role_granted_then_revoked_opens_then_closes_an_event_type(ledger: Ledger) -> None:
    tax = await ledger.register_department("tax")
    clerk = SigningKey.generate()
    assert await verdict(
        ledger,
        tax,
        "tax",
        "official.registered",
        {
            "official_id": "tax-clerk",
            "department_id": "tax",
            "name": "Clerk",
            "public_key": clerk.public.hex,
        },
    ) == ("committed", "")
    # dataset.published: departments, or officials with the data-steward role.
    assert await verdict(
        ledger,
        clerk,
        "tax",
        "dataset.published",
        {
            "dataset_id": "ds-1",
            "title": "Arrears",
            "description": "",
            "fields": ["a"],
            "access": "public",
            "readers": [],
        },
    ) == ("rejected", "unauthorized")
    assert await verdict(ledger, tax, "tax", "role.granted", {"principal": "tax-clerk", "role": "data-steward"}) == (
        "committed",
        "",
    )
    assert await verdict(
        ledger,
        clerk,
        "tax",
        "dataset.published",
        {
            "dataset_id": "ds-2",
            "title": "Arrears",
            "description": "",
            "fields": ["a"],
            "access": "public",
            "readers": [],
        },
    ) == ("committed", "")
    assert await verdict(ledger, tax, "tax", "role.revoked", {"principal": "tax-clerk", "role": "data-steward"}) == (
        "committed",
        "",
    )
    assert await verdict(
        ledger,
        clerk,
        "tax",
        "dataset.published",
        {
            "dataset_id": "ds-3",
            "title": "Arrears",
            "description": "",
            "fields": ["a"],
            "access": "public",
            "readers": [],
        },
    ) == ("rejected", "unauthorized")
    # The clerk cannot give itself the role back, nor can another department's admin.
    land = await ledger.register_department("land")
    assert await verdict(ledger, clerk, "tax", "role.granted", {"principal": "tax-clerk", "role": "data-steward"}) == (
        "rejected",
        "unauthorized",
    )
    assert await verdict(ledger, land, "land", "role.granted", {"principal": "tax-clerk", "role": "data-steward"}) == (
        "rejected",
        "unauthorized",
    )


async def test_the_policy_on_chain_changes_only_by_root_and_binds_from_the_next_event(ledger: Ledger) -> None:
    tax = await ledger.register_department("tax")
    assert await verdict(ledger, tax, "tax", "document.registered", document(1)) == ("committed", "")
    only_registrars = {"event_type": "document.registered", "grants": [{"role": "registrar"}]}
    assert await verdict(ledger, tax, "tax", "policy.rule_set", only_registrars) == ("rejected", "unauthorized")
    assert await verdict(ledger, tax, "tax", "document.registered", document(2)) == ("committed", "")
    assert await verdict(ledger, ledger.root, ev.ROOT, "policy.rule_set", only_registrars) == ("committed", "")
    # The department as such holds no registrar role: refused now, by the rule that changed.
    assert await verdict(ledger, tax, "tax", "document.registered", document(3)) == ("rejected", "unauthorized")
    assert await verdict(ledger, tax, "tax", "role.granted", {"principal": "tax", "role": "registrar"}) == (
        "rejected",
        "unauthorized",
    )  # a department cannot grant itself roles; root can
    assert await verdict(ledger, ledger.root, ev.ROOT, "role.granted", {"principal": "tax", "role": "registrar"}) == (
        "committed",
        "",
    )
    assert await verdict(ledger, tax, "tax", "document.registered", document(4)) == ("committed", "")


async def test_services_are_admitted_by_root_only_and_then_sign_as_themselves(ledger: Ledger) -> None:
    tax = await ledger.register_department("tax")
    archive = SigningKey.generate()
    admit = {"service_id": "archive", "name": "Archive", "public_key": archive.public.hex}
    assert await verdict(ledger, tax, "tax", "service.registered", admit) == ("rejected", "unauthorized")
    assert await verdict(ledger, ledger.root, ev.ROOT, "service.registered", admit) == ("committed", "")
    assert await verdict(ledger, ledger.root, ev.ROOT, "service.registered", admit) == ("rejected", "state_conflict")
    # Its key signs for the service, never for a department.
    assert await verdict(ledger, archive, "tax", "document.registered", document(5)) == (
        "rejected",
        "signer_not_of_source",
    )


async def test_officials_are_registered_by_their_own_departments_admin_only(ledger: Ledger) -> None:
    tax = await ledger.register_department("tax")
    land = await ledger.register_department("land")
    key = SigningKey.generate()
    official = {"official_id": "tax-bob", "department_id": "tax", "name": "Bob", "public_key": key.public.hex}
    assert await verdict(ledger, land, "land", "official.registered", official) == ("rejected", "unauthorized")
    assert await verdict(ledger, land, "tax", "official.registered", official) == ("rejected", "signer_not_of_source")
    assert await verdict(ledger, tax, "tax", "official.registered", official) == ("committed", "")
    assert await verdict(ledger, tax, "tax", "official.registered", official) == ("rejected", "state_conflict")
