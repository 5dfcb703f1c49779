"""Key custody in the Compose deployment: the root authority's key is in no container, and
each container mounts only its own folder, written by ``govchain custody split``, holding
genesis.json and the keys its service reads, which are enough to run it and its healthcheck."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from govchain.bus.embedded import EmbeddedNats
from govchain.datadir import DataDir
from govchain.protocol.keys import SigningKey
from govchain.services.cli import custody
from govchain.services.cli.app import app
from govchain.services.cli.custody import KEPT_OFFLINE, SERVICE_FILES, WRITABLE
from govchain.services.platform import SERVICES

from .compose import BASE_FILE, active_services, argv, deployments, healthcheck_argv, is_govchain, load, plain

DEPLOYMENTS = deployments()
DEPLOY = "./deploy"  # ${DEPLOY_DIR:-./deploy} with no DEPLOY_DIR set
RUNNER = CliRunner()
GOVCHAIN = str(Path(sys.executable).with_name("govchain"))


def invoke(args: list[str], env: dict[str, str] | None = None) -> Result:
    """``govchain ARGS`` in this process. The CLI points the loggers at its stderr, which the
    runner closes afterwards: leave logging as it is."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("govchain.services.cli.app.configure_logging", lambda *a, **k: None)
        return RUNNER.invoke(app, args, env=env)


def _bind_mounts(spec: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for entry in spec.get("volumes") or []:
        if isinstance(entry, dict):
            out.append(entry)
        else:
            parts = str(entry).split(":")
            out.append(
                {
                    "type": "bind" if parts[0].startswith((".", "/", "~")) else "volume",
                    "source": parts[0],
                    "target": parts[1] if len(parts) > 1 else parts[0],
                    "read_only": parts[2:] == ["ro"],
                }
            )
    return out


def _served(spec: dict[str, Any]) -> str | None:
    args = argv(spec.get("command"))
    return args[1] if is_govchain(spec) and args[:1] == ["serve"] and len(args) > 1 else None


# -- the Compose files ---------------------------------------------------------------------


def _witness(spec: dict[str, Any]) -> bool:
    """A checkpoint witness: `govchain witness serve`, with its own key in its own folder."""
    return is_govchain(spec) and argv(spec.get("command"))[:2] == ["witness", "serve"]


@pytest.mark.parametrize("deployment", list(DEPLOYMENTS))
def test_no_container_creates_the_chain(deployment: str) -> None:
    """`govchain init` makes the root key: it runs on the trusted host, never in the deployment."""
    for name, spec in active_services(DEPLOYMENTS[deployment]).items():
        if is_govchain(spec):
            assert argv(spec.get("command"))[:1] == ["serve"] or _witness(spec), (
                f"{deployment}: service {name!r}, key command: only `govchain serve` (and `govchain witness "
                f"serve`) run in the deployment"
            )


@pytest.mark.parametrize("deployment", list(DEPLOYMENTS))
def test_witnesses_have_separate_keys_and_state(deployment: str) -> None:
    """At least two witnesses, each reading its key and writing its state in a folder of its own
    (made by `govchain witness init`, never by the chain's custody split: a witness's key is the
    witness's), and the ledger told where they are."""
    services = active_services(DEPLOYMENTS[deployment])
    witnesses = {name: spec for name, spec in services.items() if _witness(spec)}
    assert len(witnesses) >= 2, f"{deployment}: expected at least two witnesses, found {sorted(witnesses)}"
    folders = set()
    for name, spec in witnesses.items():
        where = f"{deployment}: service {name!r}"
        args = argv(spec.get("command"))
        data = args[args.index("--dir") + 1]
        mounts = [m for m in _bind_mounts(spec) if str(m["target"]).rstrip("/") == data]
        assert len(mounts) == 1 and len(_bind_mounts(spec)) == 1, f"{where}, key volumes: one folder at {data}"
        mount = mounts[0]
        assert mount["source"] == f"{DEPLOY}/{name}" and name not in SERVICE_FILES, f"{where}, key volumes"
        assert not mount.get("read_only"), f"{where}, key volumes: the witness writes its state (witness.db)"
        assert (mount.get("bind") or {}).get("create_host_path") is False, f"{where}, key volumes"
        folders.add(mount["source"])
    assert len(folders) == len(witnesses)
    urls = (services["ledger"].get("environment") or {}).get("GOVCHAIN_WITNESS_URLS", "")
    for name in witnesses:
        assert f"http://{name}:8790" in urls, f"{deployment}: the ledger's GOVCHAIN_WITNESS_URLS lacks {name}"


@pytest.mark.parametrize("deployment", list(DEPLOYMENTS))
def test_each_govchain_container_mounts_only_its_own_folder(deployment: str) -> None:
    for name, spec in active_services(DEPLOYMENTS[deployment]).items():
        service = _served(spec)
        if service is None:
            continue
        where = f"{deployment}: service {name!r}, key volumes"
        mounts = _bind_mounts(spec)
        assert all(m.get("type") == "bind" for m in mounts), (
            f"{where}: no named volume (keys come from {DEPLOY}/<service>)"
        )
        data = [m for m in mounts if str(m["target"]).rstrip("/") == "/data"]
        assert len(data) == 1 and len(mounts) == 1, f"{where}: exactly one mount, its own folder at /data: {mounts}"
        mount = data[0]
        assert service in SERVICE_FILES, f"{where}: `govchain custody split` writes no folder for {service!r}"
        assert mount["source"] == f"{DEPLOY}/{service}", f"{where}: mounts {mount['source']}, not {DEPLOY}/{service}"
        assert (mount.get("bind") or {}).get("create_host_path") is False, (
            f"{where}: bind.create_host_path: false, so a missing folder stops compose instead of starting keyless"
        )
        assert bool(mount.get("read_only")) == (service not in WRITABLE), (
            f"{where}: read_only should be {service not in WRITABLE} ({service} "
            f"{'writes' if service in WRITABLE else 'writes nothing'} there)"
        )


@pytest.mark.parametrize("deployment", list(DEPLOYMENTS))
def test_no_container_sees_the_root_key_or_another_services_keys(deployment: str) -> None:
    owners: dict[str, set[str]] = {}
    for name, spec in active_services(DEPLOYMENTS[deployment]).items():
        for mount in _bind_mounts(spec):
            source = str(mount["source"]).rstrip("/")
            assert source not in (DEPLOY, "."), f"{deployment}: service {name!r} mounts all of {source}"
            assert "root.pem" not in source and "offline" not in source and "chain-data" not in source, (
                f"{deployment}: service {name!r} mounts {source}"
            )
            if source.startswith(DEPLOY + "/"):
                owners.setdefault(source, set()).add(_served(spec) or name)
    assert owners, f"{deployment}: no container mounts a folder of {DEPLOY}"
    for source, services in owners.items():
        assert len(services) == 1, f"{deployment}: {source} is mounted by containers of {sorted(services)}"
    assert not (DEPLOYMENTS[deployment].get("volumes") or {}).keys() & {"chain-data"}


def test_deploy_dir_can_live_outside_the_checkout() -> None:
    model = plain(load(BASE_FILE, {"DEPLOY_DIR": "/srv/govchain/deploy"}))
    sources = {m["source"] for spec in active_services(model).values() for m in _bind_mounts(spec)}
    assert "/srv/govchain/deploy/ledger" in sources and not any(s.startswith(DEPLOY) for s in sources)


def test_no_service_folder_holds_what_stays_offline() -> None:
    for service, files in SERVICE_FILES.items():
        assert "genesis.json" in files, service
        assert not set(files) & set(KEPT_OFFLINE), f"{service} would get {set(files) & set(KEPT_OFFLINE)}"
    assert {name for name, _ in SERVICES} == set(SERVICE_FILES)


# -- govchain custody split ------------------------------------------------------------------


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("offline") / "chain"
    DataDir(folder).init("custody-test")
    return folder


@pytest.fixture(scope="module")
def deploy(chain: Path) -> tuple[Path, dict[str, Any]]:
    out = chain.parent / "deploy"
    result = invoke(["custody", "split", "--data", str(chain), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    return out, json.loads(result.output)


def _tree(folder: Path) -> dict[str, tuple[int, int, int]]:
    return {
        str(p.relative_to(folder)): (stat.S_IMODE(p.stat().st_mode), p.stat().st_size, p.stat().st_mtime_ns)
        for p in [folder, *folder.rglob("*")]
    }


def test_split_writes_exactly_each_services_files_privately(chain: Path, deploy: tuple[Path, dict[str, Any]]) -> None:
    out, report = deploy
    assert sorted(p.name for p in out.iterdir()) == sorted([*SERVICE_FILES, ".gitignore"])
    assert (out / ".gitignore").read_text().splitlines()[-1] == "*", "keys must never be committed"
    for service, files in SERVICE_FILES.items():
        folder = out / service
        written = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}
        assert written == set(files), f"{service}: {sorted(written)}"
        for path in [folder, *folder.rglob("*")]:
            mode = stat.S_IMODE(path.stat().st_mode)
            assert mode == (0o700 if path.is_dir() else 0o600), f"{path}: mode {oct(mode)}"
        for name in files:
            assert (folder / name).read_bytes() == (chain / name).read_bytes(), f"{service}/{name}"
        assert report["services"][service]["files"] == list(files)
    assert not list(out.rglob("root.pem")) and not list(out.rglob("pseudonym.key"))
    assert set(report["kept_offline"]) == set(KEPT_OFFLINE)
    assert (chain / "keys" / "root.pem").is_file(), "the root key stays in the chain folder"


def test_split_refuses_to_overwrite(chain: Path, deploy: tuple[Path, dict[str, Any]]) -> None:
    out, _ = deploy
    before = _tree(out)
    result = invoke(["custody", "split", "--data", str(chain), "--out", str(out)])
    assert result.exit_code == 2 and "refusing to overwrite" in result.output
    assert _tree(out) == before


def test_split_needs_a_chain(tmp_path: Path) -> None:
    result = invoke(["custody", "split", "--data", str(tmp_path / "none"), "--out", str(tmp_path / "d")])
    assert result.exit_code == 2 and "govchain init" in result.output
    assert not (tmp_path / "d").exists()


def test_split_refuses_a_folder_inside_the_chain(chain: Path) -> None:
    result = invoke(["custody", "split", "--data", str(chain), "--out", str(chain / "deploy")])
    assert result.exit_code == 2 and not (chain / "deploy").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")
def test_split_can_hand_the_folders_to_the_image_user(chain: Path) -> None:
    out = chain.parent / "deploy-owned"
    result = invoke(["custody", "split", "--data", str(chain), "--out", str(out), "--owner", "10001"])
    assert result.exit_code == 0, result.output
    for service in SERVICE_FILES:
        for path in [out / service, *(out / service).rglob("*")]:
            assert (path.stat().st_uid, path.stat().st_gid) == (10001, 10001), path


# -- each service runs on its own folder ------------------------------------------------------


def _serve(service: str, folder: Path, tmp: Path, nats_url: str) -> subprocess.Popen[bytes]:
    """`govchain serve SERVICE --data FOLDER`, as its container runs it (SQLite for PostgreSQL)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVCHAIN_")}
    env.update(
        {
            "GOVCHAIN_NATS_URL": nats_url,
            "GOVCHAIN_DATABASE_URL": f"sqlite:///{tmp / 'db' / service}.db",
            "GOVCHAIN_INSTANCE_ID": f"custody-{service}",
            "GOVCHAIN_GATEWAY_PORT": "0",
            "GOVCHAIN_LOG_LEVEL": "WARNING",
        }
    )
    log = (tmp / f"{service}.log").open("wb")
    return subprocess.Popen([GOVCHAIN, "serve", service, "--data", str(folder)], env=env, stdout=log, stderr=log)


def _until(
    what: str, check: Callable[[], bool], processes: dict[str, subprocess.Popen[bytes]], tmp: Path, deadline: float
) -> None:
    while not check():
        for name, process in processes.items():
            if process.poll() is not None:
                pytest.fail(
                    f"`govchain serve {name}` exited {process.returncode}: {(tmp / f'{name}.log').read_text()[-2000:]}"
                )
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not within the time allowed")
        time.sleep(0.3)


def _healthchecks() -> dict[str, list[str]]:
    """The govchain healthcheck of each served service, as docker-compose.yml has it."""
    checks = {}
    for spec in active_services(DEPLOYMENTS["docker-compose.yml"]).values():
        service, check = _served(spec), healthcheck_argv(spec)
        if service and check and check[0] == "govchain" and service not in checks:
            checks[service] = check[1:]
    return checks


def test_each_service_and_its_healthcheck_run_on_its_own_folder(chain: Path, tmp_path: Path) -> None:
    """Every `govchain serve <service>` on a real NATS with nothing but its own split folder
    becomes healthy by its compose healthcheck (which reads only that folder, too)."""
    folders = tmp_path / "deploy"  # its own split: the other tests see the folders as written
    result = invoke(["custody", "split", "--data", str(chain), "--out", str(folders)])
    assert result.exit_code == 0, result.output
    read_only = {s: _tree(folders / s) for s in SERVICE_FILES if s not in WRITABLE}
    (tmp_path / "db").mkdir()
    checks = _healthchecks()
    assert set(checks) == {"ledger", "identity", "registry", "contract", "analytics"}
    deadline = time.monotonic() + 90
    processes: dict[str, subprocess.Popen[bytes]] = {}
    with EmbeddedNats(tmp_path / "nats", port=0) as nats:

        def healthy(service: str) -> Callable[[], bool]:
            args = [str(folders / service) if a == "/data" else a for a in checks[service]]
            args = [str(tmp_path / "report") if a.startswith("/tmp/") else a for a in args]
            return lambda: invoke(args, env={"GOVCHAIN_NATS_URL": nats.url}).exit_code == 0

        def gateway_healthy() -> bool:
            url = (DataDir(folders / "gateway").run_info() or {}).get("gateway_url")
            try:
                with urllib.request.urlopen(f"{url}/api/v1/chain/head", timeout=5) as answer:
                    return bool(answer.status == 200)
            except (OSError, ValueError):
                return False

        try:
            processes["ledger"] = _serve("ledger", folders / "ledger", tmp_path, nats.url)  # it makes the streams
            _until("the ledger's healthcheck", healthy("ledger"), processes, tmp_path, deadline)
            for service in SERVICE_FILES:
                if service != "ledger":
                    processes[service] = _serve(service, folders / service, tmp_path, nats.url)
            for service in checks:
                _until(f"the {service} healthcheck", healthy(service), processes, tmp_path, deadline)
            _until("the gateway's /api/v1/chain/head", gateway_healthy, processes, tmp_path, deadline)
            _admin_events_signed_offline(
                chain,
                tmp_path,
                DataDir(folders / "gateway").run_info()["gateway_url"],  # type: ignore[index]
                nats.url,
            )
        finally:
            for process in processes.values():
                process.terminate()
            for process in processes.values():
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    process.kill()
    for service, before in read_only.items():
        assert _tree(folders / service) == before, f"{service} wrote into its folder, which compose mounts read-only"
    assert not list(folders.rglob("root.pem"))


def _sign_admission(chain: Path, tmp: Path, department: str) -> Path:
    spec = tmp / f"admit-{department}.json"
    spec.write_text(
        json.dumps(
            {
                "source": "root",
                "type": "department.registered",
                "data": {
                    "department_id": department,
                    "name": department.title(),
                    "public_key": SigningKey.generate().public.hex,
                },
            }
        )
    )
    signed = tmp / f"admit-{department}.signed.json"
    result = invoke(
        [
            "custody",
            "sign",
            str(spec),
            "--key",
            str(chain / "keys" / "root.pem"),
            "--out",
            str(signed),
            "--data",
            str(chain),
            "--json",
        ]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["publish_before"]
    again = invoke(["custody", "sign", str(spec), "--key", str(chain / "keys" / "root.pem"), "--out", str(signed)])
    assert again.exit_code == 2 and "refusing to overwrite" in again.output
    return signed


def _admin_events_signed_offline(chain: Path, tmp: Path, gateway_url: str, nats_url: str) -> None:
    """The README's way: sign with the root key where it lives; POST the file as it is to the
    gateway, or publish it with `govchain custody submit`."""
    signed = _sign_admission(chain, tmp, "land-registry")
    request = urllib.request.Request(
        f"{gateway_url}/api/v1/events",
        data=signed.read_bytes(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        receipt = json.loads(answer.read())
    assert answer.status == 201 and receipt["status"] == "committed", receipt
    submitted = invoke(
        ["custody", "submit", str(_sign_admission(chain, tmp, "tax")), "--json"], env={"GOVCHAIN_NATS_URL": nats_url}
    )
    assert submitted.exit_code == 0 and json.loads(submitted.output)["status"] == "committed", submitted.output


def test_sign_advises_the_default_window_on_a_chain_made_before_the_event_time_rule(
    chain: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Such a chain's genesis policy has no ``event_time`` (its event times are not judged)."""
    real = custody.genesis_payload

    def before_the_rule(genesis: Any) -> Any:
        payload = real(genesis)
        return payload.model_copy(update={"policy": {k: v for k, v in payload.policy.items() if k != "event_time"}})

    monkeypatch.setattr(custody, "genesis_payload", before_the_rule)
    assert "event_time" not in before_the_rule(DataDir(chain).genesis()).policy
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"source": "root", "type": "clock.tick", "data": {}}))
    result = invoke(
        ["custody", "sign", str(spec), "--key", str(chain / "keys" / "root.pem"), "--out", str(tmp_path / "e.json")]
        + ["--data", str(chain), "--json"]
    )
    assert result.exit_code == 0, result.output
    signed = json.loads(result.output)
    window = datetime.fromisoformat(signed["publish_before"]) - datetime.fromisoformat(signed["time"])
    assert window.total_seconds() == 300
