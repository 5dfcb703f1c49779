"""``govchain registry``: query businesses, land, documents, the directory, the data catalog
and access logs; erase one's own personal data."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import typer
from nats.aio.client import Client

from govchain.bus import subjects
from govchain.client import GovChainClient, LedgerQueryError
from govchain.protocol.errors import GovChainError
from govchain.protocol.jsontext import parse_json_object
from govchain.protocol.keys import SigningKey
from govchain.services.cli.common import (
    DATA_OPTION,
    JSON_OPTION,
    NATS_OPTION,
    emit,
    fail,
    run,
    settings_from,
    sign_and_submit,
    with_connection,
)

registry_app = typer.Typer(
    help="Query the registries (public fields without identity; more with a signed request).",
    no_args_is_help=True,
)

AS_OPTION = typer.Option(None, "--as", help="Sign the request with this key (PEM) to see more than public fields.")
PRINCIPAL_OPTION = typer.Option(None, "--principal", help="The principal owning the --as key (e.g. tax-alice, c-…).")
PURPOSE_OPTION = typer.Option(None, help="Why an officer reads personal data (recorded on chain, shown to the person).")
PROOFS_OPTION = typer.Option(
    False, "--proofs", help="Attach RFC 9162 inclusion proofs of the events the answer rests on."
)


def ask_as(
    data: Path | None,
    nats_url: str | None,
    subject: str,
    params: dict[str, Any],
    as_key: Path | None,
    principal: str | None,
    as_json: bool = False,
) -> dict[str, Any]:
    """Ask the registry ``subject`` (named as on the default chain; asked on the chain
    ``GOVCHAIN_CHAIN`` names); a refusal (forbidden, not_found, ...) prints its code and exits 2
    (with ``--json`` also ``{"error": ..., "code": ...}`` on stdout, for scripts)."""
    settings = settings_from(data, nats_url)
    if (as_key is None) != (principal is None):
        fail("--as and --principal go together")
    try:
        signer = None if as_key is None else (SigningKey.load(as_key), str(principal))
    except GovChainError as exc:
        fail(str(exc))

    async def query(nc: Client) -> dict[str, Any] | LedgerQueryError:
        client = GovChainClient(nc, names=settings.chain_names)
        try:
            return await client.query(
                settings.chain_names.localized(subject),
                {**params, "min_height": await client.head_height()},
                as_principal=signer,
            )
        except LedgerQueryError as exc:
            return exc

    answer = run(with_connection(settings, query))
    if isinstance(answer, LedgerQueryError):
        if as_json:
            sys.stdout.write(json.dumps({"error": str(answer), "code": answer.code}) + "\n")
        fail(f"{answer.code}: {answer}")
    return answer


def _record(record_id: str, purpose: str | None, proofs: bool) -> dict[str, Any]:
    params: dict[str, Any] = {"id": record_id, "with_proofs": proofs}
    if purpose:
        params["purpose"] = purpose
    return params


def _show(answer: dict[str, Any], as_json: bool) -> None:
    emit(answer, as_json, json.dumps(answer, indent=2, ensure_ascii=False))


@registry_app.command("business")
def business(
    business_id: str,
    as_key: Path = AS_OPTION,
    principal: str = PRINCIPAL_OPTION,
    purpose: str = PURPOSE_OPTION,
    proofs: bool = PROOFS_OPTION,
    data: Path = DATA_OPTION,
    nats_url: str = NATS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """A business and its licences."""
    _show(
        ask_as(
            data,
            nats_url,
            subjects.REGISTRY_BUSINESS,
            _record(business_id, purpose, proofs),
            as_key,
            principal,
            as_json,
        ),
        as_json,
    )


@registry_app.command("search")
def search(
    text: str,
    proofs: bool = PROOFS_OPTION,
    data: Path = DATA_OPTION,
    nats_url: str = NATS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Businesses whose name contains TEXT (public fields)."""
    _show(
        ask_as(
            data, nats_url, subjects.REGISTRY_BUSINESSES, {"text": text, "with_proofs": proofs}, None, None, as_json
        ),
        as_json,
    )


@registry_app.command("parcel")
def parcel(
    parcel_id: str,
    as_key: Path = AS_OPTION,
    principal: str = PRINCIPAL_OPTION,
    purpose: str = PURPOSE_OPTION,
    proofs: bool = PROOFS_OPTION,
    data: Path = DATA_OPTION,
    nats_url: str = NATS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """A land parcel and the full, ordered history of its transactions."""
    _show(
        ask_as(
            data, nats_url, subjects.REGISTRY_PARCEL, _record(parcel_id, purpose, proofs), as_key, principal, as_json
        ),
        as_json,
    )


@registry_app.command("document")
def document(
    file: Path = typer.Argument(None, help="The document; its SHA-256 is computed here and only the hash is sent."),
    sha256: str = typer.Option(None, help="Or give the hash directly."),
    proofs: bool = PROOFS_OPTION,
    data: Path = DATA_OPTION,
    nats_url: str = NATS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Is this document authentic? Which department registered it, and when (exit 1 if unknown)."""
    if (file is None) == (sha256 is None):
        fail("give a FILE or --sha256")
    digest = sha256 or hashlib.sha256(file.read_bytes()).hexdigest()
    answer = ask_as(
        data, nats_url, subjects.REGISTRY_DOCUMENT, {"sha256": digest, "with_proofs": proofs}, None, None, as_json
    )
    _show(answer, as_json)
    if not answer["registered"]:
        raise typer.Exit(1)


@registry_app.command("departments")
def departments(
    proofs: bool = PROOFS_OPTION,
    data: Path = DATA_OPTION,
    nats_url: str = NATS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """The department directory."""
    _show(ask_as(data, nats_url, subjects.REGISTRY_DEPARTMENTS, {"with_proofs": proofs}, None, None, as_json), as_json)


@registry_app.command("catalog")
def catalog(
    as_key: Path = AS_OPTION,
    principal: str = PRINCIPAL_OPTION,
    proofs: bool = PROOFS_OPTION,
    data: Path = DATA_OPTION,
    nats_url: str = NATS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """The data sets departments share that you may read."""
    _show(
        ask_as(data, nats_url, subjects.REGISTRY_CATALOG, {"with_proofs": proofs}, as_key, principal, as_json), as_json
    )


@registry_app.command("seal")
def seal(
    details: str = typer.Argument(
        ...,
        metavar="DETAILS",
        help='The personal details as a JSON object (e.g. {"legal_name": "Li Ming"}), or @FILE.',
    ),
    subject: str = typer.Option(..., help="Whose data it is: the person's pseudonym (c-…)."),
    record: str = typer.Option(
        ...,
        help="The record it belongs to, which the ciphertext is bound to: business.registered/<business id> "
        "or land/<parcel id>.",
    ),
    field: str = typer.Option("owner_details", help="The event field it goes in."),
    as_key: Path = typer.Option(..., "--as", help="An officer's key (PEM): a department's or one of its officials'."),
    principal: str = typer.Option(..., "--principal", help="The principal owning the --as key."),
    data: Path = DATA_OPTION,
    nats_url: str = NATS_OPTION,
) -> None:
    """Encrypt personal details under the person's own data key, for an event about to be published.

    Prints the sealed field: one JSON object, ciphertext only (AES-256-GCM; SM4-GCM on a gm chain), to put in the event's
    FIELD in place of the details, so no personal data in clear reaches the chain. The data key
    stays in the registry's key vault; erasing it makes the details unreadable everywhere."""
    try:
        parsed = parse_json_object(
            Path(details[1:]).read_bytes() if details.startswith("@") else details.encode(), what="DETAILS"
        )
    except (OSError, ValueError) as exc:
        fail(str(exc))
    params = {"subject": subject, "record": record, "fields": {field: parsed}}
    answer = ask_as(data, nats_url, subjects.REGISTRY_SEAL, params, as_key, principal)
    typer.echo(json.dumps(answer["sealed"][field]))


@registry_app.command("access-log")
def access_log(
    subject: str = typer.Argument(..., help="Whose log (your own pseudonym, or any as an auditor)."),
    as_key: Path = typer.Option(..., "--as", help="Your key (PEM)."),
    principal: str = typer.Option(..., "--principal", help="Your principal id."),
    proofs: bool = PROOFS_OPTION,
    data: Path = DATA_OPTION,
    nats_url: str = NATS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Who read a person's personal data, when, and why."""
    _show(
        ask_as(
            data,
            nats_url,
            subjects.REGISTRY_ACCESS_LOG,
            {"subject": subject, "with_proofs": proofs},
            as_key,
            principal,
            as_json,
        ),
        as_json,
    )


@registry_app.command("erase")
def erase(
    subject: str = typer.Argument(..., help="Your pseudonym (c-…)."),
    key: Path = typer.Option(..., "--key", "-k", help="Your key (PEM)."),
    reason: str = typer.Option("right to erasure", help="Recorded on chain."),
    data: Path = DATA_OPTION,
    nats_url: str = NATS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Ask to be forgotten: your data key is destroyed, your sealed data unreadable everywhere."""
    sign_and_submit(
        settings_from(data, nats_url),
        key,
        source=subject,
        type="personal_data.erased",
        data={"subject": subject, "reason": reason},
        as_json=as_json,
    )
