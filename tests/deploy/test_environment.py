"""Every ``GOVCHAIN_*`` variable the deployment sets is one GovChain reads, with a value it
accepts; the NATS and database URLs name servers of the deployment; NATS credentials come
from ``infra/nats/credentials/<user>.env`` files that ``govchain nats-config`` really writes,
the user being the one each service logs in as (``contract`` logs in as ``contract-engine``)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from typing import Any
from urllib.parse import urlsplit

import pytest
import typer
from pydantic import ValidationError
from sqlalchemy.engine import make_url

from govchain.bus.connect import servers
from govchain.bus.permissions import SERVICE_USERS, nats_user_of
from govchain.config import Settings
from govchain.datadir import DataDir
from govchain.protocol.policy import CONTRACT_ENGINE
from govchain.services.cli.app import app
from govchain.services.platform import SERVICES

from .compose import REPO, active_services, argv, deployments, documents, environment, is_govchain, is_nats

DOCUMENTS = documents()
DEPLOYMENTS = deployments()
PREFIX = str(Settings.model_config.get("env_prefix", "")).upper()
SETTINGS_VARIABLES = {f"{PREFIX}{name.upper()}" for name in Settings.model_fields}

# Read by the gateway itself (services/gateway/limits.py), documented in the README.
GATEWAY_VARIABLES = {"GOVCHAIN_GATEWAY_RATE_LIMIT", "GOVCHAIN_GATEWAY_TRUST_PROXY"}


def _cli_variables() -> set[str]:
    """Variables the command line reads for its own options (e.g. GOVCHAIN_LOG_LEVEL)."""
    found: set[str] = set()

    def walk(command: Any) -> None:
        for param in getattr(command, "params", []):
            envvar = getattr(param, "envvar", None)
            found.update([envvar] if isinstance(envvar, str) else list(envvar or []))
        for sub in (getattr(command, "commands", None) or {}).values():
            walk(sub)

    walk(typer.main.get_command(app))
    return {v.upper() for v in found}


KNOWN = SETTINGS_VARIABLES | GATEWAY_VARIABLES | _cli_variables()


def test_the_settings_prefix_is_govchain() -> None:
    assert PREFIX == "GOVCHAIN_"
    assert "GOVCHAIN_NATS_URL" in SETTINGS_VARIABLES and "GOVCHAIN_STREAM_REPLICAS" in SETTINGS_VARIABLES


def test_the_gateway_variables_are_read_and_documented() -> None:
    limits = (REPO / "services" / "gateway" / "limits.py").read_text(encoding="utf-8")
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for name in GATEWAY_VARIABLES:
        assert name in limits, f"{name} is no longer read by the gateway"
        assert f"`{name}`" in readme, f"{name} is not documented in README.md"


def _variables(spec: dict[str, Any]) -> dict[str, str | None]:
    return {k: v for k, v in environment(spec).items() if k.upper().startswith("GOVCHAIN_")}


@pytest.mark.parametrize("name", list(DOCUMENTS))
def test_every_govchain_variable_is_a_setting(name: str) -> None:
    for service, spec in (DOCUMENTS[name].get("services") or {}).items():
        for key in _variables(spec):
            assert key.upper() in KNOWN, (
                f"{name}: service {service!r}, key environment.{key}: GovChain reads no such variable "
                f"(not a field of govchain.config.Settings, nor a documented gateway or CLI variable)"
            )


def test_the_image_sets_only_known_variables() -> None:
    text = (REPO / "infra" / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    for line in text.splitlines():
        if line.strip().upper().startswith("ENV "):
            for key, _ in re.findall(r"(\w+)=(\S+)", line):
                if key.upper().startswith("GOVCHAIN_"):
                    assert key.upper() in KNOWN, f"infra/Dockerfile, ENV {key}: GovChain reads no such variable"


def _settings(env: dict[str, str | None]) -> Settings:
    saved = {k: v for k, v in os.environ.items() if k.upper().startswith("GOVCHAIN_")}
    try:
        for key in saved:
            del os.environ[key]
        os.environ.update({k: v for k, v in env.items() if v is not None and k.upper() in SETTINGS_VARIABLES})
        return Settings()
    finally:
        for key in [k for k in os.environ if k.upper().startswith("GOVCHAIN_")]:
            del os.environ[key]
        os.environ.update(saved)


@pytest.mark.parametrize("name", list(DEPLOYMENTS))
def test_the_values_are_accepted_by_the_settings(name: str) -> None:
    for service, spec in active_services(DEPLOYMENTS[name]).items():
        if not is_govchain(spec):
            continue
        try:
            _settings(_variables(spec))
        except ValidationError as exc:
            fields = ", ".join(f"GOVCHAIN_{str(e['loc'][0]).upper()}" for e in exc.errors())
            pytest.fail(f"{name}: service {service!r}, key environment ({fields}): {exc}")


def _connects_to_nats(spec: dict[str, Any]) -> bool:
    args = argv(spec.get("command"))
    return is_govchain(spec) and args[:1] == ["serve"]


@pytest.mark.parametrize("name", list(DEPLOYMENTS))
def test_services_reach_every_nats_server_of_the_deployment(name: str) -> None:
    services = active_services(DEPLOYMENTS[name])
    nats_nodes = {n for n, s in services.items() if is_nats(s)}
    assert nats_nodes, f"{name}: no NATS server"
    for service, spec in services.items():
        if not _connects_to_nats(spec):
            continue
        where = f"{name}: service {service!r}, key environment.GOVCHAIN_NATS_URL"
        url = _variables(spec).get("GOVCHAIN_NATS_URL")
        assert url, f"{where} is not set"
        named = []
        for server in servers(url):  # how govchain.bus.connect splits a cluster's URLs
            parts = urlsplit(server)
            assert parts.scheme == "nats" and parts.port == 4222, f"{where}: {server!r}"
            assert parts.hostname in nats_nodes, f"{where}: {parts.hostname!r} is not a NATS service of this deployment"
            condition = ((spec.get("depends_on") or {}).get(parts.hostname) or {}).get("condition")
            assert condition == "service_healthy", f"{name}: service {service!r}, key depends_on.{parts.hostname}"
            named.append(parts.hostname)
        assert sorted(named) == sorted(nats_nodes), f"{where}: names {named}, the deployment runs {sorted(nats_nodes)}"
        try:
            replicas = _settings(_variables(spec)).stream_replicas
        except ValidationError as exc:
            pytest.fail(f"{name}: service {service!r}, key environment: {exc}")
        assert replicas == len(nats_nodes), (
            f"{name}: service {service!r}, key environment.GOVCHAIN_STREAM_REPLICAS is {replicas}; "
            f"the deployment has {len(nats_nodes)} NATS servers"
        )


def _databases_created() -> set[str]:
    """Databases the postgres service creates: POSTGRES_DB, plus those its init scripts create."""
    created: set[str] = set()
    for script in (REPO / "infra" / "postgres").rglob("*.sql"):
        created.update(re.findall(r"CREATE DATABASE\s+\"?(\w+)", script.read_text(encoding="utf-8"), re.IGNORECASE))
    return created


@pytest.mark.parametrize("name", list(DEPLOYMENTS))
def test_database_urls_name_the_deployments_postgres(name: str) -> None:
    services = active_services(DEPLOYMENTS[name])
    for service, spec in services.items():
        url = _variables(spec).get("GOVCHAIN_DATABASE_URL")
        if not is_govchain(spec) or not url:
            continue
        where = f"{name}: service {service!r}, key environment.GOVCHAIN_DATABASE_URL"
        parsed = make_url(url)
        assert parsed.get_backend_name() == "postgresql", f"{where}: not PostgreSQL"
        host = services.get(str(parsed.host))
        assert host is not None and str(host.get("image", "")).startswith("postgres"), f"{where}: {parsed.host!r}"
        pg_env = environment(host)
        assert parsed.username == pg_env.get("POSTGRES_USER"), f"{where}: user {parsed.username!r}"
        assert parsed.password == pg_env.get("POSTGRES_PASSWORD"), f"{where}: password differs from {parsed.host}'s"
        assert parsed.database in {pg_env.get("POSTGRES_DB")} | _databases_created(), (
            f"{where}: database {parsed.database!r} is neither POSTGRES_DB nor created by infra/postgres"
        )
        assert ((spec.get("depends_on") or {}).get(parsed.host) or {}).get("condition") == "service_healthy", (
            f"{name}: service {service!r}, key depends_on.{parsed.host}"
        )


SERVICE_NAMES = {name for name, _ in SERVICES}


@pytest.fixture(scope="module")
def generated_users(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """The users `govchain nats-config` really writes a ``credentials/<user>.env`` for, for a
    fresh chain (its genesis names the platform's services), run as an operator would."""
    tmp = tmp_path_factory.mktemp("nats-config")
    DataDir(tmp / "data").init("compose-credentials")
    out = tmp / "out"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "govchain.services.cli",
            "nats-config",
            "--data",
            str(tmp / "data"),
            "--out",
            str(out),
            "--offline",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    users = {path.name.removesuffix(".env") for path in (out / "credentials").glob("*.env")}
    assert users, "nats-config wrote no credentials"
    return users


def test_every_served_service_has_generated_credentials(generated_users: set[str]) -> None:
    """`govchain serve <service>` logs in as ``nats_user_of(service)``: nats-config makes that user."""
    assert set(SERVICE_USERS) == SERVICE_NAMES, "SERVICE_USERS must name every `govchain serve` service"
    for service in SERVICE_NAMES:
        assert nats_user_of(service) in generated_users, (
            f"`govchain serve {service}` logs in as {nats_user_of(service)!r}, but nats-config writes "
            f"credentials only for {sorted(generated_users)}"
        )
    # The contract engine signs its results as its own principal, and publishes them as that user.
    assert nats_user_of("contract") == CONTRACT_ENGINE


@pytest.mark.parametrize("name", list(DEPLOYMENTS))
def test_nats_credentials_come_from_the_generated_env_files(name: str, generated_users: set[str]) -> None:
    for service, spec in active_services(DEPLOYMENTS[name]).items():
        if not _connects_to_nats(spec):
            continue
        where = f"{name}: service {service!r}"
        for key in ("GOVCHAIN_NATS_USER", "GOVCHAIN_NATS_PASSWORD"):
            assert key not in environment(spec), (
                f"{where}, key environment.{key}: set it in the env_file (environment would override it)"
            )
        files = spec.get("env_file") or []
        entries = [{"path": f} if isinstance(f, str) else f for f in ([files] if isinstance(files, str) else files)]
        credentials = [e for e in entries if str(e["path"]).startswith("infra/nats/credentials/")]
        assert len(credentials) == 1, f"{where}, key env_file: expected one infra/nats/credentials/<user>.env"
        entry = credentials[0]
        stem = str(entry["path"]).removeprefix("infra/nats/credentials/").removesuffix(".env")
        assert stem in generated_users, (
            f"{where}, key env_file: {entry['path']} is not written by `govchain nats-config` "
            f"(it writes {', '.join(sorted(f'{u}.env' for u in generated_users))}): the service would "
            f"connect without a user and be refused"
        )
        served = argv(spec.get("command"))[1]
        assert served in SERVICE_NAMES, f"{where}: serves {served!r}, not a GovChain service"
        assert stem == nats_user_of(served), (
            f"{where}, key env_file: {entry['path']} should be {nats_user_of(served)}.env, the user "
            f"`govchain serve {served}` needs"
        )
        assert entry.get("required") is False, (
            f"{where}, key env_file: required: false, so the deployment starts before `govchain nats-config` ran"
        )


def test_the_readme_names_only_credentials_files_that_are_written(generated_users: set[str]) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    named = set(re.findall(r"([\w<>-]+)\.env\b", readme))
    assert "contract-engine" in named, "README.md should say that `contract` reads contract-engine.env"
    for stem in named:
        assert stem.startswith("<") or stem in generated_users, (
            f"README.md names credentials/{stem}.env, which `govchain nats-config` does not write"
        )
