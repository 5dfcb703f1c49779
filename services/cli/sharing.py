"""``govchain sharing``: departments request, approve, refuse, list and read shared data sets.

A request names the data set, its holder, the purpose, the fields and the duration; the
``data-sharing`` contract (deploy it with ``govchain contract deploy --builtin data-sharing``)
grants it once the named approving departments (``--approver``, ``--required`` of them)
approve, or refuses it. Reads go through the registry, which checks them against the grant
and records them on chain before answering.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import typer

from govchain.bus import subjects
from govchain.client import GovChainClient
from govchain.protocol.policy import CONTRACT_ENGINE
from govchain.services.cli.common import (
    DATA_OPTION,
    JSON_OPTION,
    NATS_OPTION,
    emit,
    run,
    settings_from,
    sign_and_submit,
    with_connection,
)
from govchain.services.cli.registry import AS_OPTION, PRINCIPAL_OPTION, ask_as

sharing_app = typer.Typer(
    help="Share data sets between departments: request, approve, refuse, list grants, read.", no_args_is_help=True
)

KEY_OPTION = typer.Option(..., "--key", "-k", help="Your department's key (or a data-steward official's).")
SOURCE_OPTION = typer.Option(..., "--department", help="The department you act for.")


@sharing_app.command("request")
def request(
    dataset_id: str = typer.Argument(..., help="The data set, as listed by `govchain registry catalog`."),
    holder: str = typer.Option(..., help="The department whose catalog lists it."),
    purpose: str = typer.Option(..., help="Why you need it (on chain; shown to the people whose data is read)."),
    fields: list[str] = typer.Option(..., "--field", "-f", help="A field asked for (repeat for more)."),
    days: int = typer.Option(90, help="How long the grant lasts, in days from its approval (block time)."),
    approvers: list[str] = typer.Option(
        None, "--approver", help="A department whose approval counts (default: the holder); repeat for N of M."
    ),
    required: int = typer.Option(1, help="How many of the approvers must approve."),
    request_id: str = typer.Option(None, "--id", help="The request's id (default: a new one); grants are named by it."),
    key: Path = KEY_OPTION,
    source: str = SOURCE_OPTION,
    data: Path = DATA_OPTION,
    nats_url: str = NATS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Ask another department for access to one of its data sets."""
    rid = request_id or f"DS-{uuid.uuid4().hex[:12]}"
    sign_and_submit(
        settings_from(data, nats_url),
        key,
        source=source,
        type="dataset.access_requested",
        data={
            "request_id": rid,
            "dataset_id": dataset_id,
            "holder": holder,
            "purpose": purpose,
            "fields": fields,
            "duration_days": days,
            "approvers": approvers or [holder],
            "required": required,
        },
        as_json=as_json,
        also={"request_id": rid},
    )


@sharing_app.command("approve")
def approve(
    request_id: str = typer.Argument(...),
    key: Path = KEY_OPTION,
    source: str = SOURCE_OPTION,
    data: Path = DATA_OPTION,
    nats_url: str = NATS_OPTION,
    as_json: bool = JSON_OPTION,
    wait: bool = typer.Option(
        True, help="Wait for the contract's decision (granted, or still pending for more approvals) to be on chain."
    ),
) -> None:
    """Approve a request your department is named to approve."""
    settings = settings_from(data, nats_url)
    sign_and_submit(
        settings, key, source=source, type="dataset.access_approved", data={"request_id": request_id}, as_json=as_json
    )
    if wait:
        case = run(
            with_connection(
                settings, lambda nc: contract_decision(GovChainClient(nc, names=settings.chain_names), request_id)
            )
        )
        if not as_json:
            emit(case, False, f"data-sharing {request_id}: {case['state']}")


async def contract_decision(client: GovChainClient, request_id: str, timeout: float = 30.0) -> dict[str, Any]:
    """The data-sharing case once the contract has judged the newest approval, with every result
    it emitted (the grant, or a refusal) committed: a grant the next command reads is there."""
    case = await client.request(
        client.names.contract_case,
        {"contract_id": "data-sharing", "case_key": request_id, "min_height": await client.head_height()},
    )
    for result in case.get("results", []):
        await client.wait_receipt(result["event_id"], CONTRACT_ENGINE, timeout)
    return case


@sharing_app.command("refuse")
def refuse(
    request_id: str = typer.Argument(...),
    reason: str = typer.Option(..., help="Why (on chain)."),
    key: Path = KEY_OPTION,
    source: str = SOURCE_OPTION,
    data: Path = DATA_OPTION,
    nats_url: str = NATS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Decline a request your department is named to approve: the contract refuses it."""
    sign_and_submit(
        settings_from(data, nats_url),
        key,
        source=source,
        type="dataset.access_declined",
        data={"request_id": request_id, "reason": reason},
        as_json=as_json,
    )


@sharing_app.command("grants")
def grants(
    dataset_id: str = typer.Option(None, "--dataset", help="Only grants of this data set."),
    as_key: Path = AS_OPTION,
    principal: str = PRINCIPAL_OPTION,
    data: Path = DATA_OPTION,
    nats_url: str = NATS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Grants your department is party to (auditors: all), with their expiry and every read under them."""
    params: dict[str, Any] = {} if dataset_id is None else {"dataset_id": dataset_id}
    answer = ask_as(data, nats_url, subjects.REGISTRY_GRANTS, params, as_key, principal, as_json)
    lines = [f"chain day {answer.get('today')}"]
    for g in answer["grants"]:
        state = g["status"] if g["status"] != "void" else f"void ({g['void_reason']})"
        expired = " EXPIRED" if g["status"] == "granted" and str(answer.get("today")) > g["expires_on"] else ""
        lines.append(
            f"{g['request_id']}: {g['grantee']} reads {g['dataset_id']} of {g['holder']} "
            f"[{', '.join(g['fields'])}] until {g['expires_on']}{expired}; {state}; "
            f"approved by {', '.join(g['approvals'])}; {len(g['reads'])} read(s); purpose: {g['purpose']}"
        )
    emit(answer, as_json, "\n".join(lines))


@sharing_app.command("read")
def read(
    request_id: str = typer.Argument(..., help="The grant (its request id)."),
    fields: list[str] = typer.Option(None, "--field", "-f", help="Only these granted fields (default: all)."),
    as_key: Path = AS_OPTION,
    principal: str = PRINCIPAL_OPTION,
    data: Path = DATA_OPTION,
    nats_url: str = NATS_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Read a data set under a grant: checked (grantee, fields, expiry) and recorded on chain first."""
    params: dict[str, Any] = {"request_id": request_id}
    if fields:
        params["fields"] = fields
    answer = ask_as(data, nats_url, subjects.REGISTRY_DATASET_READ, params, as_key, principal, as_json)
    emit(answer, as_json, json.dumps(answer, indent=2, ensure_ascii=False))
