"""``govchain custody``: key custody for a deployment with one container per service.

``govchain init`` makes every key of a chain in one data folder: the root authority's, the
orderer's, each signing service's, the pseudonym key and the key vault's KEK. In a
deployment that folder stays on a trusted (ideally offline) host, because of the root key;
``custody split`` copies out one folder per service holding only ``genesis.json`` and the
keys that service reads, ``custody sign`` signs an event there without any network (say an
admin event with the root key), and ``custody submit`` publishes such an already-signed
event from a connected machine.
"""

from __future__ import annotations

import os
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import typer

from govchain.datadir import DataDir
from govchain.privacy.kekfiles import KekFiles
from govchain.privatefiles import private_folder, write_private
from govchain.protocol.envelope import make_event, parse_envelope
from govchain.protocol.errors import EventRejected, GovChainError
from govchain.protocol.eventtime import parse_rfc3339
from govchain.protocol.genesis import genesis_payload
from govchain.protocol.jsontext import parse_json_object
from govchain.protocol.keys import SigningKey
from govchain.protocol.policy import EventTimeRule, Policy
from govchain.services.cli.common import (
    DATA_OPTION,
    JSON_OPTION,
    NATS_OPTION,
    emit,
    fail,
    settings_from,
    submit_signed,
)

custody_app = typer.Typer(
    help="Key custody: the root key stays offline, each service container gets only its own keys.",
    no_args_is_help=True,
)

GENESIS = "genesis.json"

SERVICE_FILES: dict[str, tuple[str, ...]] = {
    "ledger": (GENESIS, "keys/orderer.pem"),
    "identity": (GENESIS,),
    "registry": (GENESIS, "keys/registry.pem", "keys/vault.kek"),
    "contract": (GENESIS, "keys/contract-engine.pem"),
    "analytics": (GENESIS,),
    "gateway": (GENESIS, "keys/gateway.pem"),
}
"""What ``govchain serve <service>`` reads from its data folder, per service (the folder's
name is the service's). The ledger signs blocks with the orderer key; the registry signs as
``registry`` and opens its key vault with ``keys/vault.kek``; the contract engine signs its
results as ``contract-engine``; the gateway signs as ``gateway`` (and writes ``run.json``).
Identity and analytics sign nothing: genesis only. The compose healthchecks read nothing
from the folder. A standby orderer uses the ledger's folder."""

KEPT_OFFLINE = {
    "keys/root.pem": "the root authority's key: signs admin events offline (govchain custody sign)",
    "keys/pseudonym.key": "the citizens' pseudonym key: for whoever enrolls citizens (govchain identity)",
}
"""What stays only in the chain folder: no service reads it."""

WRITABLE = frozenset({"registry", "gateway"})
"""Services that write into their folder: the registry (vault KEK rotation, keys/vault.kek.next)
and the gateway (run.json). The others may mount theirs read-only."""


def _parse_owner(owner: str) -> tuple[int, int]:
    uid_text, _, gid_text = owner.partition(":")
    try:
        uid = int(uid_text)
        gid = int(gid_text) if gid_text else uid
    except ValueError:
        fail(f"--owner takes UID or UID:GID (numbers), not {owner!r}")
    if uid < 0 or gid < 0:
        fail(f"--owner takes UID or UID:GID (numbers), not {owner!r}")
    return uid, gid


def split_chain(data: Path, out: Path, owner: tuple[int, int] | None = None) -> dict[str, Any]:
    """Write ``out/<service>/`` for each service of :data:`SERVICE_FILES`: 0700 folders,
    0600 files, copies of the chain folder's files; never ``keys/root.pem``. Refuses if any
    of those folders exists, or if the chain folder lacks a file; writes nothing then."""
    chain = DataDir(data)
    if not chain.is_initialised():
        raise GovChainError(f"{data} has no genesis.json: run `govchain init --data {data}` first")
    if KekFiles(chain.keys).rotation_pending():
        raise GovChainError(f"{data}: a vault KEK rotation is unfinished (keys/vault.kek.next); finish it first")
    missing = sorted({name for files in SERVICE_FILES.values() for name in files if not (data / name).is_file()})
    if missing:
        raise GovChainError(f"{data} lacks {', '.join(missing)}: is it a folder `govchain init` made?")
    try:
        if out.resolve().is_relative_to(data.resolve()):
            raise GovChainError(f"--out {out} is inside the chain folder {data}; choose a folder outside it")
    except OSError:
        pass
    taken = [str(out / service) for service in SERVICE_FILES if (out / service).exists()]
    if taken:
        raise GovChainError(f"refusing to overwrite {', '.join(taken)}: remove them first (or choose another --out)")
    if owner is not None and os.geteuid() != 0 and owner[0] != os.geteuid():
        raise GovChainError(
            f"--owner {owner[0]}:{owner[1]} needs root (run as root, or split without --owner and then "
            f"`sudo chown -R {owner[0]}:{owner[1]} {out}/*`)"
        )
    created_out = not out.exists()
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    made: list[Path] = []
    try:
        ignore = out / ".gitignore"  # keys must never be committed, wherever --out is
        if not ignore.exists():
            write_private(ignore, b"# written by govchain custody split: private keys, never commit them\n*\n")
        services: dict[str, Any] = {}
        for service, files in SERVICE_FILES.items():
            folder = private_folder(out / service)
            made.append(folder)
            for name in files:
                target = out / service / name
                if target.parent != folder and not target.parent.exists():
                    private_folder(target.parent)
                write_private(target, (data / name).read_bytes())
            if owner is not None:
                for path in [folder, *sorted(folder.rglob("*"))]:
                    os.chown(path, *owner, follow_symlinks=False)
            services[service] = {
                "folder": str(folder),
                "files": list(files),
                "writable": service in WRITABLE,
                **({"also_for": ["ledger-standby"]} if service == "ledger" else {}),
            }
    except BaseException:
        for folder in made:
            shutil.rmtree(folder, ignore_errors=True)
        if created_out:
            shutil.rmtree(out, ignore_errors=True)
        raise
    return {
        "data": str(data),
        "out": str(out),
        "owner": None if owner is None else f"{owner[0]}:{owner[1]}",
        "services": services,
        "kept_offline": {name: why for name, why in KEPT_OFFLINE.items() if (data / name).exists()},
    }


@custody_app.command("split")
def split(
    data: Path = DATA_OPTION,
    out: Path = typer.Option(..., "--out", "-o", help="Where to write one folder per service (e.g. deploy)."),
    owner: str = typer.Option(
        None,
        "--owner",
        help="chown what is written to UID[:GID], e.g. 10001 (the image's user); needs root.",
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Copy out one folder per service (ledger, identity, registry, contract, analytics,
    gateway) holding only genesis.json and the keys that service reads, 0600 files in 0700
    folders. The root key (keys/root.pem) and the pseudonym key are never copied: the chain
    folder, with the root key, goes offline. Refuses to overwrite a service's folder."""
    settings = settings_from(data)
    try:
        report = split_chain(settings.data_dir, out, None if owner is None else _parse_owner(owner))
    except (GovChainError, OSError) as exc:
        fail(str(exc))
    lines = [
        f"split {report['data']} into {report['out']} (0700 folders, 0600 files"
        + (f", owner {report['owner']})" if report["owner"] else ")")
    ]
    for service, entry in report["services"].items():
        users = ", ".join([service, *entry.get("also_for", [])])
        mode = "read-write" if entry["writable"] else "read-only"
        lines.append(f"  {entry['folder']}/  {' '.join(entry['files'])}   (for {users}; mount {mode})")
    lines.append(f"kept only in {report['data']} (never copied):")
    lines.extend(f"  {name}: {why}" for name, why in report["kept_offline"].items())
    if not report["owner"]:
        lines.append(
            "the containers run as user 10001: `sudo chown -R 10001:10001 "
            f"{report['out']}/*` (or split as root with --owner 10001)"
        )
    emit(report, as_json, "\n".join(lines))


def _event_window(data: Path | None) -> int:
    """Seconds an event may lie before its block's time, per the chain's genesis when known
    (a chain made before the rule judges no times; the default window is still sound advice)."""
    rule = None
    if data is not None and DataDir(data).is_initialised():
        rule = Policy.model_validate(genesis_payload(DataDir(data).genesis()).policy).event_time
    return (rule or EventTimeRule()).max_behind_s


@custody_app.command("sign")
def sign(
    event_file: Path = typer.Argument(
        ...,
        help='JSON file: {"source": ..., "type": ..., "data": {...}} (optional "id", "subject", "schemaversion"), as `govchain publish` takes it.',
    ),
    key: Path = typer.Option(..., "--key", "-k", help="The signer's private key (PEM), e.g. chain/keys/root.pem."),
    out: Path = typer.Option(..., "--out", "-o", help="Where to write the signed event (never overwritten)."),
    data: Path = typer.Option(
        None, "--data", "-d", help="The chain folder: its genesis says how long the event stays publishable."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Sign an event and write it to a file, without any network: on the offline host, with
    the root key. Carry the file over and publish it with `govchain custody submit` or by
    POSTing it as is to the gateway's /api/v1/events. The event's time is now: it must be
    ordered within the chain's max-event-behind window (300 s unless `govchain init
    --max-event-behind` said more)."""
    try:
        spec = parse_json_object(event_file.read_bytes(), what=str(event_file))
        envelope = make_event(
            SigningKey.load(key),
            source=spec["source"],
            type=spec["type"],
            data=spec["data"],
            schemaversion=spec.get("schemaversion", 1),
            subject=spec.get("subject"),
            event_id=spec.get("id"),
        )
    except KeyError as exc:
        fail(f"{event_file} lacks the field {exc}")
    except (GovChainError, OSError, ValueError, TypeError) as exc:
        fail(str(exc))
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        fail(f"{out} exists; refusing to overwrite it")
    except OSError as exc:
        fail(f"{out}: {exc.strerror}")
    with os.fdopen(fd, "wb") as handle:
        handle.write(envelope.to_bytes())  # the exact wire bytes
    window = _event_window(data)
    deadline = (parse_rfc3339(envelope.time) + timedelta(seconds=window)).isoformat().replace("+00:00", "Z")
    emit(
        {
            "out": str(out),
            "event_id": envelope.id,
            "source": envelope.source,
            "type": envelope.type,
            "signer": envelope.signer,
            "time": envelope.time,
            "publish_before": deadline,
        },
        as_json,
        f"wrote {out}: event {envelope.id} ({envelope.type}) signed by {envelope.signer} at {envelope.time}\n"
        f"publish it before {deadline} (the chain's window: {window} s): govchain custody submit {out}",
    )


@custody_app.command("submit")
def submit(
    signed_file: Path = typer.Argument(..., help="A signed event, as `govchain custody sign` writes it."),
    data: Path = DATA_OPTION,
    nats_url: str = NATS_OPTION,
    timeout: float = typer.Option(30.0, help="Seconds to wait for the receipt."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Publish an already-signed event as it is (no key needed) and print its receipt; exit 1
    if it was rejected."""
    settings = settings_from(data, nats_url)
    try:
        envelope = parse_envelope(signed_file.read_bytes())
    except OSError as exc:
        fail(f"{signed_file}: {exc.strerror}")
    except EventRejected as exc:
        fail(f"{signed_file} is not a signed event: {exc.reason.value}: {exc.detail}")
    submit_signed(settings, envelope, as_json=as_json, timeout=timeout)


__all__ = ["KEPT_OFFLINE", "SERVICE_FILES", "WRITABLE", "custody_app", "split_chain"]
