"""The Compose files, and the model they make together, are valid Compose and hang together.

The schema is the Compose Specification's own, ``tests/deploy/compose-spec.json``, stored
verbatim from repository ``compose-spec/compose-spec``, path ``schema/compose-spec.json``,
commit ``b2835e8acc1e42e7aecbc27a9bc4a1fc66ef21ba``. It declares JSON Schema draft 2019-09.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from .compose import (
    BASE_FILE,
    CLUSTER_FILE,
    ComposeLoader,
    Tagged,
    active_services,
    deployments,
    documents,
    is_govchain,
    merge,
    volume_mounts,
)

SCHEMA_FILE = Path(__file__).with_name("compose-spec.json")
SCHEMA_SHA256 = "91ae91d24640d45634c9d4b5f4e3a5ce1b6b6da38bc06b27e2a04891f81f32da"

DOCUMENTS = documents()
DEPLOYMENTS = deployments()


def _schema() -> dict[str, Any]:
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


def test_the_schema_is_the_stored_upstream_file() -> None:
    digest = hashlib.sha256(SCHEMA_FILE.read_bytes()).hexdigest()
    assert digest == SCHEMA_SHA256, "compose-spec.json changed: it must stay verbatim (see tests/deploy/__init__.py)"
    schema = _schema()
    validator = jsonschema.validators.validator_for(schema)
    assert validator is jsonschema.Draft201909Validator, schema.get("$schema")
    validator.check_schema(schema)


def _where(error: jsonschema.ValidationError) -> str:
    path = list(error.absolute_path)
    if len(path) >= 2 and path[0] == "services":
        return f"service {path[1]!r}, key {'.'.join(str(p) for p in path[2:]) or '(the service)'}"
    return "key " + (".".join(str(p) for p in path) or "(top level)")


@pytest.mark.parametrize("name", list(DOCUMENTS))
def test_valid_against_the_compose_specification(name: str) -> None:
    schema = _schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = sorted(validator.iter_errors(DOCUMENTS[name]), key=lambda e: list(map(str, e.absolute_path)))
    assert not errors, f"{name} is not valid Compose:\n" + "\n".join(f"  {_where(e)}: {e.message}" for e in errors)


def test_an_invalid_file_is_reported_with_its_service_and_key() -> None:
    """The check above does find mistakes, and names where they are."""
    schema = _schema()
    bad = {"services": {"ledger": {"image": "x", "restart": 3, "depends_on": {"nats": {}}}}}
    errors = list(jsonschema.validators.validator_for(schema)(schema).iter_errors(bad))
    where = {_where(e) for e in errors}
    assert "service 'ledger', key restart" in where
    assert "service 'ledger', key depends_on" in where


def test_compose_tags_load_and_merge_as_compose_does() -> None:
    """The merge the tests rely on follows the specification's rules (13-merge.md)."""
    import yaml

    base = yaml.load(
        "services:\n  app:\n    image: a\n    command: [x]\n    ports: ['8080:80']\n"
        "    environment: {A: '1', B: '2'}\n    depends_on: [db]\n    volumes: ['v:/data', './c:/etc/c']\n",
        Loader=ComposeLoader,
    )
    over = yaml.load(
        "services:\n  app:\n    command: [y]\n    ports: !override ['8443:443']\n"
        "    environment: {B: !reset null, C: '3'}\n    depends_on: !override {mq: {condition: service_healthy}}\n"
        "    volumes: ['w:/data']\n    dns: [1.1.1.1]\n",
        Loader=ComposeLoader,
    )
    assert isinstance(over["services"]["app"]["ports"], Tagged)
    app = merge(base, over)["services"]["app"]
    assert app["command"] == ["y"]
    assert app["ports"] == ["8443:443"]
    assert app["environment"] == {"A": "1", "C": "3"}
    assert app["depends_on"] == {"mq": {"condition": "service_healthy"}}
    assert sorted(app["volumes"]) == ["./c:/etc/c", "w:/data"]
    assert app["image"] == "a" and app["dns"] == ["1.1.1.1"]


def test_both_files_use_the_expected_names() -> None:
    assert BASE_FILE.name == "docker-compose.yml" and CLUSTER_FILE.name == "docker-compose.cluster.yml"


@pytest.mark.parametrize("name", list(DEPLOYMENTS))
def test_every_service_has_an_image_or_a_build(name: str) -> None:
    for service, spec in active_services(DEPLOYMENTS[name]).items():
        assert spec.get("image") or spec.get("build"), f"{name}: service {service!r} has neither image nor build"


@pytest.mark.parametrize("name", list(DEPLOYMENTS))
def test_dependencies_exist_and_their_conditions_can_be_met(name: str) -> None:
    services = active_services(DEPLOYMENTS[name])
    for service, spec in services.items():
        for target, dep in (spec.get("depends_on") or {}).items():
            where = f"{name}: service {service!r}, key depends_on.{target}"
            assert target in services, f"{where}: no such service (or it is disabled by a profile)"
            condition = dep.get("condition", "service_started")
            if condition == "service_healthy":
                check = services[target].get("healthcheck") or {}
                assert check.get("test") and not check.get("disable"), f"{where}: {target!r} has no healthcheck"
            if condition == "service_completed_successfully":
                assert services[target].get("restart", "no") == "no", (
                    f'{where}: {target!r} is a one-shot and must have restart: "no"'
                )


@pytest.mark.parametrize("name", list(DEPLOYMENTS))
def test_long_running_services_restart_and_report_health(name: str) -> None:
    for service, spec in active_services(DEPLOYMENTS[name]).items():
        if spec.get("restart") == "no":
            continue
        assert spec.get("restart") in ("always", "unless-stopped"), f"{name}: service {service!r}, key restart"
        assert (spec.get("healthcheck") or {}).get("test"), f"{name}: service {service!r}, key healthcheck"


@pytest.mark.parametrize("name", list(DEPLOYMENTS))
def test_named_volumes_are_declared(name: str) -> None:
    model = DEPLOYMENTS[name]
    declared = set(model.get("volumes") or {})
    for service, spec in active_services(model).items():
        for source, _target, bind in volume_mounts(spec):
            if source and not bind:
                assert source in declared, f"{name}: service {service!r}, key volumes: {source!r} is not declared"


@pytest.mark.parametrize("name", list(DEPLOYMENTS))
def test_published_host_ports_do_not_clash(name: str) -> None:
    seen: dict[str, str] = {}
    for service, spec in active_services(DEPLOYMENTS[name]).items():
        for port in spec.get("ports") or []:
            published = str(port.get("published") if isinstance(port, dict) else str(port).rsplit(":", 1)[0])
            assert published not in seen, (
                f"{name}: host port {published} published by {seen.get(published)!r} and {service!r}"
            )
            seen[published] = service


def test_the_cluster_file_replaces_the_single_nats_server() -> None:
    model = DEPLOYMENTS["docker-compose.yml + docker-compose.cluster.yml"]
    services = active_services(model)
    assert "nats" not in services, "the single `nats` server must not run beside the cluster"
    for service, spec in services.items():
        if is_govchain(spec):
            assert "nats" not in (spec.get("depends_on") or {}), f"service {service!r}, key depends_on.nats"
