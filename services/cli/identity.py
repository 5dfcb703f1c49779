"""``govchain did``, ``govchain credential`` and ``govchain identity``: DIDs, verifiable
credentials, and the identity events departments publish."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import typer
from nats.aio.client import Client

from govchain.client import GovChainClient
from govchain.config import Settings
from govchain.crypto import CREDENTIAL_SUITE, INTL
from govchain.datadir import DataDir
from govchain.protocol.credentials import GOVCHAIN_CONTEXT, add_proof, make_credential
from govchain.protocol.did import did_for, verification_method_id
from govchain.protocol.envelope import Envelope, make_event
from govchain.protocol.errors import GovChainError
from govchain.protocol.jsontext import parse_json_object
from govchain.protocol.keys import SigningKey
from govchain.protocol.validation import CREDENTIALS
from govchain.pseudonym import pseudonym
from govchain.services.cli.common import (
    DATA_OPTION,
    JSON_OPTION,
    NATS_OPTION,
    emit,
    fail,
    run,
    settings_from,
    sign_and_submit,
    submit_signed,
    with_connection,
)

KEY_OPTION = typer.Option(..., "--key", "-k", help="The signer's private key (PEM).")
SOURCE_HELP = "Principal the event is published for (a department for its officials)."

did_app = typer.Typer(help="Resolve did:govchain identifiers to their DID documents.", no_args_is_help=True)
credential_app = typer.Typer(
    help="Issue, verify and revoke W3C verifiable credentials (eddsa-jcs-2022 proofs).", no_args_is_help=True
)
identity_app = typer.Typer(help="Publish identity events: officials, citizens, keys and roles.", no_args_is_help=True)


def _pseudonym_key(settings: Settings) -> bytes:
    return DataDir(settings.data_dir).pseudonym_key(settings.pseudonym_key)


def _pseudonym(national_id: str, settings: Settings) -> str:
    """The citizen's pseudonym under the chain's keyed MAC (HMAC-SM3 on a gm chain)."""
    folder = DataDir(settings.data_dir)
    suite = folder.crypto_suite() if folder.is_initialised() else INTL
    return pseudonym(national_id, _pseudonym_key(settings), suite=suite)


@did_app.command("resolve")
def did_resolve(
    did: str = typer.Argument(..., help="e.g. did:govchain:tax"),
    data: Path = DATA_OPTION,
    nats_url: str = NATS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Resolve a DID as of the chain (exit 1 if it does not resolve).

    The output is a DID Core §7.1 resolution result: ``didDocument`` (null when resolution
    fails), ``didResolutionMetadata`` (an ``error`` such as ``notFound`` or ``invalidDid`` on
    failure) and ``didDocumentMetadata`` (``deactivated``, and block heights as strings)."""
    settings = settings_from(data, nats_url)

    async def ask(nc: Client) -> dict[str, Any]:
        client = GovChainClient(nc, names=settings.chain_names)
        return await client.resolve_did(did, min_height=await client.head_height())

    result = resolution_result(run(with_connection(settings, ask)))
    emit(result, as_json, json.dumps(result, indent=2, ensure_ascii=False))
    if result["didDocument"] is None:
        raise typer.Exit(1)


RESOLUTION_RESULT = ("didDocument", "didResolutionMetadata", "didDocumentMetadata")


def resolution_result(answer: dict[str, Any]) -> dict[str, Any]:
    """The three members of a DID Core resolution result, and nothing else; an answer that
    lacks one (an identity service of another version) is refused rather than printed."""
    missing = [name for name in RESOLUTION_RESULT if name not in answer]
    if missing:
        fail(f"the identity service answered without {', '.join(missing)}")
    return {name: answer[name] for name in RESOLUTION_RESULT}


@credential_app.command("issue")
def credential_issue(
    key: Path = KEY_OPTION,
    issuer: str = typer.Option(..., help="Issuing principal (a department), e.g. tax."),
    subject: str = typer.Option(
        ..., help='credentialSubject as JSON, or @FILE, e.g. {"id": "did:govchain:c-...", "clearance": "ok"}'
    ),
    credential_type: list[str] = typer.Option(..., "--type", help="Credential type(s) besides VerifiableCredential."),
    signer: str = typer.Option(None, help="Principal owning KEY if not the issuer (an official of it)."),
    credential_id: str = typer.Option(None, "--id", help="Credential id (default: a new urn:uuid)."),
    valid_until: str = typer.Option(None, help="RFC 3339 end of validity."),
    context: list[str] = typer.Option(
        [], "--context", help="JSON-LD context URL for claims the GovChain context does not define (repeatable)."
    ),
    out: Path = typer.Option(None, help="Write the credential here instead of printing it."),
) -> None:
    """Issue a credential signed with KEY: no network needed, verification checks it against the chain.

    Its ``@context`` is the VC 2.0 context, the GovChain context (served by every gateway at
    /contexts/govchain/v1) and any --context given."""
    try:
        subject_value = parse_json_object(
            Path(subject[1:]).read_bytes() if subject.startswith("@") else subject.encode(), what="--subject"
        )
        signing_key = SigningKey.load(key)
        credential = make_credential(
            did_for(issuer),
            subject_value,
            credential_type,
            credential_id=credential_id if credential_id is not None else uuid.uuid4().urn,
            valid_until=valid_until,
            contexts=[GOVCHAIN_CONTEXT, *context],
        )
        secured = add_proof(credential, signing_key, verification_method_id(signer or issuer, signing_key.key_id))
    except (GovChainError, ValueError, OSError) as exc:
        fail(str(exc))
    text = json.dumps(secured, indent=2)
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text + "\n")
        typer.echo(f"wrote {out} ({secured['id']})", err=True)


@credential_app.command("verify")
def credential_verify(
    credential_file: Path = typer.Argument(..., help="The credential (JSON)."),
    data: Path = DATA_OPTION,
    nats_url: str = NATS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Check a credential's proof, its issuer's key and its revocation as of the chain (exit 1 if invalid)."""
    settings = settings_from(data, nats_url)
    try:
        credential = parse_json_object(credential_file.read_bytes(), what=str(credential_file))
    except (OSError, ValueError) as exc:
        fail(str(exc))

    async def ask(nc: Client) -> dict[str, Any]:
        client = GovChainClient(nc, names=settings.chain_names)
        return await client.verify_credential(credential, min_height=await client.head_height())

    verdict = run(with_connection(settings, ask))
    text = "valid" if verdict["valid"] else f"INVALID: {verdict['reason']}"
    emit({"valid": verdict["valid"], "reason": verdict["reason"]}, as_json, text)
    if not verdict["valid"]:
        raise typer.Exit(1)


@credential_app.command("revoke")
def credential_revoke(
    credential_id: str = typer.Argument(..., help="The credential's id."),
    key: Path = KEY_OPTION,
    issuer: str = typer.Option(..., help="The issuing department."),
    reason: str = typer.Option(..., help="Why (recorded on chain)."),
    data: Path = DATA_OPTION,
    nats_url: str = NATS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Record on chain that the issuer revoked a credential."""
    sign_and_submit(
        settings_from(data, nats_url),
        key,
        source=issuer,
        type="credential.revoked",
        data={"credential_id": credential_id, "reason": reason},
        as_json=as_json,
    )


@identity_app.command("pseudonym")
def identity_pseudonym(
    national_id: str = typer.Option(..., help="The citizen's national id (never sent anywhere)."),
    data: Path = DATA_OPTION,
) -> None:
    """Print the pseudonymous id a citizen has on chain (keyed HMAC of the national id)."""
    try:
        typer.echo(_pseudonym(national_id, settings_from(data)))
    except (GovChainError, ValueError) as exc:
        fail(str(exc))


@identity_app.command("enroll")
def identity_enroll(
    national_id: str = typer.Option(..., help="The citizen's national id: only its pseudonym reaches the chain."),
    department: str = typer.Option(..., help="The enrolling department."),
    key: Path = KEY_OPTION,
    citizen_key: Path = typer.Option(None, help="Write a new key for the citizen here (PEM) and register it."),
    data: Path = DATA_OPTION,
    nats_url: str = NATS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Enroll a citizen under their pseudonym (needs a department admin or enrollment officer key)."""
    settings = settings_from(data, nats_url)
    try:
        citizen_id = _pseudonym(national_id, settings)
        payload: dict[str, Any] = {"citizen_id": citizen_id}
        if citizen_key is not None:
            new_key = SigningKey.generate(SigningKey.load(key).suite)  # the chain's, as the enrolling key's
            new_key.save(citizen_key)
            payload["public_key"] = new_key.public.hex
    except (GovChainError, ValueError) as exc:
        fail(str(exc))
    sign_and_submit(
        settings,
        key,
        source=department,
        type="citizen.enrolled",
        data=payload,
        as_json=as_json,
        also={"citizen_id": citizen_id},
    )


@identity_app.command("register-official")
def identity_register_official(
    official_id: str = typer.Argument(..., help="e.g. tax-alice"),
    department: str = typer.Option(..., help="The official's department."),
    name: str = typer.Option(..., help="Display name."),
    key: Path = typer.Option(..., "--key", "-k", help="A department admin's key (PEM)."),
    official_key: Path = typer.Option(..., help="Write the official's new key here (PEM)."),
    role: list[str] = typer.Option([], help="Initial role(s), e.g. registrar, issuer, enrollment, admin."),
    data: Path = DATA_OPTION,
    nats_url: str = NATS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Register an official of a department with a fresh key and initial roles."""
    try:
        new_key = SigningKey.generate(SigningKey.load(key).suite)  # the chain's, as the admin's key's
        new_key.save(official_key)
    except GovChainError as exc:
        fail(str(exc))
    sign_and_submit(
        settings_from(data, nats_url),
        key,
        source=department,
        type="official.registered",
        data={
            "official_id": official_id,
            "department_id": department,
            "name": name,
            "public_key": new_key.public.hex,
            "roles": role,
        },
        as_json=as_json,
    )


@identity_app.command("rotate-key")
def identity_rotate_key(
    owner: str = typer.Option(..., help="Principal whose key rotates."),
    key: Path = typer.Option(..., "--key", "-k", help="The key to replace (it signs the rotation)."),
    new_key: Path = typer.Option(..., help="Write the new key here (PEM)."),
    source: str = typer.Option(None, help=SOURCE_HELP + " Default: the owner."),
    grace_blocks: int = typer.Option(10, help="Blocks during which the old key may still sign."),
    data: Path = DATA_OPTION,
    nats_url: str = NATS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Replace a key without downtime: the new key signs at once, the old one for GRACE_BLOCKS more blocks."""
    try:
        old = SigningKey.load(key)
        fresh = SigningKey.generate(old.suite)
        fresh.save(new_key)
    except GovChainError as exc:
        fail(str(exc))
    sign_and_submit(
        settings_from(data, nats_url),
        key,
        source=source or owner,
        type="key.rotated",
        data={"owner": owner, "old_key_id": old.key_id, "public_key": fresh.public.hex, "grace_blocks": grace_blocks},
        as_json=as_json,
    )


@identity_app.command("add-credentials-key")
def identity_add_credentials_key(
    owner: str = typer.Option(..., help="Principal (a department or official) that will issue credentials."),
    key: Path = typer.Option(..., "--key", "-k", help="A key of the owner, or of an admin over it (signs the event)."),
    new_key: Path = typer.Option(..., help="Write the new Ed25519 credentials key here (PEM)."),
    source: str = typer.Option(None, help=SOURCE_HELP + " Default: the owner."),
    data: Path = DATA_OPTION,
    nats_url: str = NATS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Add an Ed25519 key that signs W3C credentials (eddsa-jcs-2022) and no event: how a gm
    (国密) chain's departments issue credentials every VC verifier accepts. On an intl chain any
    Ed25519 key of the owner issues credentials already; this one is restricted to them."""
    try:
        signer = SigningKey.load(key)
        fresh = SigningKey.generate(CREDENTIAL_SUITE)
        fresh.save(new_key)
        envelope = credentials_key_added(signer, owner, fresh, source=source)
    except (GovChainError, ValueError) as exc:
        fail(str(exc))
    submit_signed(settings_from(data, nats_url), envelope, as_json=as_json)


def credentials_key_added(
    signer: SigningKey, owner: str, credentials_key: SigningKey, *, source: str | None = None
) -> Envelope:
    """The ``key.added`` event that registers ``credentials_key`` (Ed25519) as ``owner``'s key
    for W3C credentials only, signed by ``signer`` (the owner's key, or an admin's over it), for
    ``source`` (default: the owner). One builder for ``add-credentials-key`` and the demo, so
    what the demo registers is what an operator's command registers."""
    return make_event(
        signer,
        source=source or owner,
        type="key.added",
        data={"owner": owner, "public_key": credentials_key.public.hex, "purpose": CREDENTIALS},
    )


@identity_app.command("revoke-key")
def identity_revoke_key(
    key_id: str = typer.Argument(..., help="The key id to revoke."),
    reason: str = typer.Option(..., help="Why (recorded on chain)."),
    key: Path = typer.Option(..., "--key", "-k", help="Signer: the owner, its department admin, or the root."),
    source: str = typer.Option(..., help=SOURCE_HELP),
    data: Path = DATA_OPTION,
    nats_url: str = NATS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Revoke a key at once: it signs nothing from the next event on."""
    sign_and_submit(
        settings_from(data, nats_url),
        key,
        source=source,
        type="key.revoked",
        data={"key_id": key_id, "reason": reason},
        as_json=as_json,
    )


@identity_app.command("grant-role")
def identity_grant_role(
    principal: str = typer.Argument(..., help="Who gains the role."),
    role: str = typer.Argument(..., help="e.g. registrar, issuer, enrollment, admin."),
    key: Path = typer.Option(..., "--key", "-k", help="The root's key or the principal's department admin key."),
    source: str = typer.Option(..., help=SOURCE_HELP),
    revoke: bool = typer.Option(False, "--revoke", help="Take the role away instead."),
    data: Path = DATA_OPTION,
    nats_url: str = NATS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Grant (or with --revoke, take away) a role."""
    sign_and_submit(
        settings_from(data, nats_url),
        key,
        source=source,
        type="role.revoked" if revoke else "role.granted",
        data={"principal": principal, "role": role},
        as_json=as_json,
    )
