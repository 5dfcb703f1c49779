"""Every command a container runs is a real ``govchain`` command with real options, checked by
parsing it with the CLI itself (the typer app, walked as a click command tree), in the
container's own environment; and the services it serves are the platform's."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import typer

from govchain.config import Settings
from govchain.services.cli.app import app
from govchain.services.gateway.api import router as api_router
from govchain.services.platform import SERVICES

from .compose import REPO, active_services, argv, deployments, environment, healthcheck_argv, is_govchain, volume_mounts

DEPLOYMENTS = deployments()
CLI = typer.main.get_command(app)
SERVICE_NAMES = [name for name, _ in SERVICES]


def _subcommands(command: Any) -> dict[str, Any] | None:
    """A group's subcommands, or None for a leaf command (typer ships its own click)."""
    commands = getattr(command, "commands", None)
    return commands if isinstance(commands, dict) else None


def _dockerfile_env() -> dict[str, str]:
    """The image's ENV, which every container starts with."""
    env: dict[str, str] = {}
    text = (REPO / "infra" / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    for line in text.splitlines():
        if line.strip().upper().startswith("ENV "):
            env.update(dict(re.findall(r"(\w+)=(\S+)", line)))
    return env


class CommandProblem(AssertionError):
    pass


def parse_govchain(args: list[str], env: dict[str, str | None], where: str) -> tuple[list[str], dict[str, Any]]:
    """Resolve ``govchain ARGS`` to a command and parse its options as the CLI would, with
    ``env`` as the environment (options may come from environment variables).
    Returns the command path and the parsed parameters."""
    command, path, rest = CLI, ["govchain"], list(args)
    while (subcommands := _subcommands(command)) is not None:
        if not rest or rest[0].startswith("-"):
            raise CommandProblem(f"{where}: `{' '.join(path)}` needs a subcommand: {', '.join(sorted(subcommands))}")
        name = rest.pop(0)
        if name not in subcommands:
            raise CommandProblem(
                f"{where}: `{' '.join(path)}` has no subcommand {name!r}; it has {', '.join(sorted(subcommands))}"
            )
        command, path = subcommands[name], [*path, name]
    known = {opt for p in command.params if p.param_type_name == "option" for opt in (*p.opts, *p.secondary_opts)}
    for token in rest:
        if token.startswith("-") and token != "-" and token.split("=", 1)[0] not in known:
            raise CommandProblem(
                f"{where}: `{' '.join(path)}` has no option {token!r}; it has {', '.join(sorted(known))}"
            )
    saved = {k: v for k, v in os.environ.items() if k.startswith("GOVCHAIN_")}
    try:
        for key in saved:
            del os.environ[key]
        os.environ.update({k: v for k, v in env.items() if v is not None})
        ctx = command.make_context(" ".join(path), list(rest))
    except Exception as exc:  # the CLI's own usage errors: missing argument, bad value, …
        raise CommandProblem(f"{where}: `{' '.join(path + rest)}` does not parse: {exc}") from None
    finally:
        for key in [k for k in os.environ if k.startswith("GOVCHAIN_")]:
            del os.environ[key]
        os.environ.update(saved)
    return path, dict(ctx.params)


def _command_lines() -> Iterator[tuple[str, str, str, list[str], dict[str, str | None]]]:
    """(deployment, service, key, govchain args, environment) of every govchain invocation:
    each GovChain container's command, and every healthcheck that runs govchain."""
    image_env = _dockerfile_env()
    for deployment, model in DEPLOYMENTS.items():
        for service, spec in active_services(model).items():
            env = {**image_env, **environment(spec)}
            if is_govchain(spec):
                entrypoint = argv(spec.get("entrypoint")) or ["govchain"]
                assert entrypoint == ["govchain"], f"{deployment}: service {service!r}, key entrypoint"
                yield deployment, service, "command", argv(spec.get("command")), env
            check = healthcheck_argv(spec)
            if check and check[0] == "govchain":
                yield deployment, service, "healthcheck.test", check[1:], env


COMMAND_LINES = list(_command_lines())


def _id(line: tuple[str, str, str, list[str], dict[str, str | None]]) -> str:
    return f"{'cluster' if '+' in line[0] else 'single'}:{line[1]}:{line[2]}"


def test_the_cli_tree_is_walkable() -> None:
    assert _subcommands(CLI) is not None and "serve" in CLI.commands and "init" in CLI.commands


@pytest.mark.parametrize("line", COMMAND_LINES, ids=[_id(line) for line in COMMAND_LINES])
def test_commands_are_real_govchain_commands(line: tuple[str, str, str, list[str], dict[str, str | None]]) -> None:
    deployment, service, key, args, env = line
    where = f"{deployment}: service {service!r}, key {key}"
    path, params = parse_govchain(args, env, where)
    if path == ["govchain", "serve"]:
        assert params["service"] in SERVICE_NAMES, (
            f"{where}: `govchain serve {params['service']}` is not a platform service ({', '.join(SERVICE_NAMES)})"
        )


def test_a_wrong_command_is_reported_with_its_service_and_key() -> None:
    with pytest.raises(CommandProblem, match=r"service 'x', key command: `govchain serve` has no option '--bogus'"):
        parse_govchain(
            ["serve", "ledger", "--bogus"], {"GOVCHAIN_NATS_URL": "nats://n:4222"}, "f: service 'x', key command"
        )
    with pytest.raises(CommandProblem, match="has no subcommand 'serv'"):
        parse_govchain(["serv", "ledger"], {}, "f: service 'x', key command")
    with pytest.raises(CommandProblem, match="does not parse"):  # --nats-url is required; no GOVCHAIN_NATS_URL
        parse_govchain(["serve", "ledger"], {}, "f: service 'x', key command")


def _serving(model: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """container → (the service it serves, its spec)."""
    out = {}
    for name, spec in active_services(model).items():
        args = argv(spec.get("command"))
        if is_govchain(spec) and args[:1] == ["serve"] and len(args) > 1:
            out[name] = (args[1], spec)
    return out


@pytest.mark.parametrize("deployment", list(DEPLOYMENTS))
def test_every_platform_service_has_a_container(deployment: str) -> None:
    served = {target for target, _ in _serving(DEPLOYMENTS[deployment]).values()}
    missing = [name for name in SERVICE_NAMES if name not in served]
    assert not missing, f"{deployment}: no container runs `govchain serve` for {', '.join(missing)}"


def _data_dir(args: list[str], env: dict[str, str | None]) -> str:
    for flag in ("--data", "-d"):
        if flag in args:
            return args[args.index(flag) + 1]
    return str(env.get("GOVCHAIN_DATA_DIR") or Settings.model_fields["data_dir"].default)


@pytest.mark.parametrize("deployment", list(DEPLOYMENTS))
def test_every_service_reads_its_data_folder_from_a_mount(deployment: str) -> None:
    """`--data` (or GOVCHAIN_DATA_DIR) is where the container's own folder is mounted: its keys
    come from there, never from the image. Which folder, and nothing else, see test_custody.py."""
    image_env = _dockerfile_env()
    for name, (_, spec) in _serving(DEPLOYMENTS[deployment]).items():
        data = _data_dir(argv(spec.get("command")), {**image_env, **environment(spec)})
        targets = [target.rstrip("/") for _, target, _ in volume_mounts(spec)]
        assert data in targets, f"{deployment}: service {name!r}, key volumes: nothing is mounted at {data}"


@pytest.mark.parametrize("deployment", list(DEPLOYMENTS))
def test_a_standby_orderer_waits_beside_the_ledger(deployment: str) -> None:
    ledgers = {n: s for n, (target, s) in _serving(DEPLOYMENTS[deployment]).items() if target == "ledger"}
    assert len(ledgers) >= 2, f"{deployment}: a standby orderer needs a second `serve ledger` container"
    ids = {n: environment(s).get("GOVCHAIN_INSTANCE_ID") for n, s in ledgers.items()}
    assert all(ids.values()) and len(set(ids.values())) == len(ids), (
        f"{deployment}: ledger containers need distinct GOVCHAIN_INSTANCE_ID (the lease names its holder): {ids}"
    )
    stores = {n: environment(s).get("GOVCHAIN_DATABASE_URL") for n, s in ledgers.items()}
    assert all(stores.values()) and len(set(stores.values())) == len(stores), (
        f"{deployment}: each orderer keeps its own index of the chain; GOVCHAIN_DATABASE_URL must differ: {stores}"
    )
    images = {(s.get("image"), repr(s.get("build"))) for s in ledgers.values()}
    assert len(images) == 1, f"{deployment}: ledger containers must run the same image: {images}"


@pytest.mark.parametrize("deployment", list(DEPLOYMENTS))
def test_instance_ids_are_stable_and_unique(deployment: str) -> None:
    seen: dict[str, str] = {}
    for name, (_, spec) in _serving(DEPLOYMENTS[deployment]).items():
        instance = environment(spec).get("GOVCHAIN_INSTANCE_ID")
        assert instance, f"{deployment}: service {name!r}, key environment.GOVCHAIN_INSTANCE_ID is not set"
        assert "$" not in instance and instance not in seen, (
            f"{deployment}: service {name!r}, key environment.GOVCHAIN_INSTANCE_ID {instance!r} "
            f"(also {seen.get(instance)!r})"
        )
        seen[instance] = name


API_PATHS = {getattr(route, "path", "") for route in api_router.routes}


@pytest.mark.parametrize("deployment", list(DEPLOYMENTS))
def test_the_gateway_listens_publicly_and_checks_the_chain_head(deployment: str) -> None:
    gateways = {n: s for n, (target, s) in _serving(DEPLOYMENTS[deployment]).items() if target == "gateway"}
    for name, spec in gateways.items():
        where = f"{deployment}: service {name!r}"
        env = environment(spec)
        settings_port = int(env.get("GOVCHAIN_GATEWAY_PORT") or Settings.model_fields["gateway_port"].default)
        assert env.get("GOVCHAIN_GATEWAY_HOST") == "0.0.0.0", f"{where}, key environment.GOVCHAIN_GATEWAY_HOST"
        targets = [
            str(p).rsplit(":", 1)[-1].split("/")[0] if not isinstance(p, dict) else str(p.get("target"))
            for p in spec.get("ports") or []
        ]
        assert str(settings_port) in targets, f"{where}, key ports: the gateway's port {settings_port} is not published"
        check = healthcheck_argv(spec) or []
        assert check[:1] and check[0].startswith("python"), (
            f"{where}, key healthcheck.test: expected a Python HTTP check"
        )
        urls = [u for c in check for u in re.findall(r"https?://[^'\"\s]+", c)]
        assert len(urls) == 1, f"{where}, key healthcheck.test: expected one URL, found {urls}"
        url = urlsplit(urls[0])
        assert url.port == settings_port, f"{where}, key healthcheck.test: port {url.port} is not the gateway's"
        assert url.path == "/api/v1/chain/head" and url.path in API_PATHS, (
            f"{where}, key healthcheck.test: {url.path} is not the gateway's chain-head route"
        )


@pytest.mark.parametrize("deployment", list(DEPLOYMENTS))
def test_the_ledger_health_is_govchain_status(deployment: str) -> None:
    for name, (target, spec) in _serving(DEPLOYMENTS[deployment]).items():
        if target == "ledger":
            check = healthcheck_argv(spec) or []
            assert check[:2] == ["govchain", "status"], f"{deployment}: service {name!r}, key healthcheck.test"
