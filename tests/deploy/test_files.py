"""Every file the Compose files build from, mount or read is in the repository."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from govchain.services.cli.custody import SERVICE_FILES

from .compose import REPO, active_services, argv, documents, healthcheck_argv, host_path, is_nats, volume_mounts

DOCUMENTS = documents()


def _services(name: str) -> dict[str, dict[str, Any]]:
    return DOCUMENTS[name].get("services") or {}


def _inside_repo(path: Path) -> bool:
    return path.resolve().is_relative_to(REPO)


@pytest.mark.parametrize("name", list(DOCUMENTS))
def test_builds_name_a_context_and_dockerfile_that_exist(name: str) -> None:
    for service, spec in _services(name).items():
        build = spec.get("build")
        if build is None:
            continue
        build = {"context": build} if isinstance(build, str) else build
        context = REPO / build.get("context", ".")
        dockerfile = context / build.get("dockerfile", "Dockerfile")
        assert context.is_dir() and _inside_repo(context), f"{name}: service {service!r}, key build.context: {context}"
        assert dockerfile.is_file(), f"{name}: service {service!r}, key build.dockerfile: {dockerfile} does not exist"


DEPLOY = "./deploy"
"""Where `govchain custody split --out deploy` writes each service's folder (${DEPLOY_DIR:-./deploy}):
generated per deployment, with its keys, so not in the repository."""


@pytest.mark.parametrize("name", list(DOCUMENTS))
def test_bind_mounts_exist(name: str) -> None:
    for service, spec in _services(name).items():
        for index, (source, _target, bind) in enumerate(volume_mounts(spec)):
            if not bind:
                continue
            if source.startswith(DEPLOY + "/"):
                witness = argv(spec.get("command"))[:2] == ["witness", "serve"]  # `govchain witness init` makes it
                assert witness or source.removeprefix(DEPLOY + "/") in SERVICE_FILES, (
                    f"{name}: service {service!r}, key volumes[{index}]: `govchain custody split` writes no {source}"
                )
                continue
            path = REPO / source
            assert _inside_repo(path), (
                f"{name}: service {service!r}, key volumes[{index}]: {source} is outside the repository"
            )
            assert path.exists(), f"{name}: service {service!r}, key volumes[{index}]: {source} does not exist"


@pytest.mark.parametrize("name", list(DOCUMENTS))
def test_env_files_exist_or_are_optional(name: str) -> None:
    for service, spec in _services(name).items():
        files = spec.get("env_file") or []
        for index, entry in enumerate([files] if isinstance(files, str) else files):
            entry = {"path": entry} if isinstance(entry, str) else entry
            path = REPO / entry["path"]
            where = f"{name}: service {service!r}, key env_file[{index}]"
            if entry.get("required", True) in (True, "true"):
                assert path.is_file(), f"{where}: {entry['path']} does not exist (and is required)"
            else:  # generated later (govchain nats-config): its folder is in the repository
                assert path.parent.is_dir(), f"{where}: the folder of {entry['path']} does not exist"


@pytest.mark.parametrize("name", list(DOCUMENTS))
def test_config_files_named_in_commands_are_mounted_from_the_repository(name: str) -> None:
    """`-c /etc/nats/…conf` and similar: the file must come in through a bind mount."""
    services = active_services(DOCUMENTS[name]) if "services" in DOCUMENTS[name] else {}
    for service, spec in services.items():
        args = argv(spec.get("command"))
        for flag, value in zip(args, args[1:], strict=False):
            if flag in ("-c", "--config") and value.startswith("/"):
                path = host_path(spec, value)
                assert path is not None, f"{name}: service {service!r}, key command: {value} is not mounted"
                assert path.is_file(), f"{name}: service {service!r}, key command: {value} ({path}) does not exist"


def test_every_nats_service_reads_a_repository_config() -> None:
    for name in ("docker-compose.yml", "docker-compose.yml + docker-compose.cluster.yml"):
        for service, spec in active_services(DOCUMENTS[name]).items():
            if is_nats(spec):
                args = argv(spec.get("command"))
                assert "-c" in args, f"{name}: service {service!r}, key command: no -c config file"


def test_postgres_init_scripts_are_mounted() -> None:
    spec = _services("docker-compose.yml")["postgres"]
    path = host_path(spec, "/docker-entrypoint-initdb.d")
    assert path is not None and path.is_dir(), "service 'postgres', key volumes: infra/postgres/initdb is not mounted"
    assert list(path.glob("*.sql")), f"{path} holds no .sql script"


def test_healthcheck_programs_exist_in_their_images() -> None:
    """Programs the healthchecks call: wget in the Alpine-based nats image, pg_isready in postgres,
    and in the GovChain image only what python:3.11-slim plus the project provide."""
    allowed = {"nats": {"wget"}, "postgres": {"pg_isready"}, "govchain": {"govchain", "python"}}
    for name in ("docker-compose.yml", "docker-compose.yml + docker-compose.cluster.yml"):
        for service, spec in active_services(DOCUMENTS[name]).items():
            check = healthcheck_argv(spec)
            if not check:
                continue
            image = str(spec.get("image", "")).split(":")[0].split("/")[-1]
            assert check[0] in allowed.get(image, set()), (
                f"{name}: service {service!r}, key healthcheck.test: {check[0]!r} is not available in the {image} image"
            )
