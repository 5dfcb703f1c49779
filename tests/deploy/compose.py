"""Reading Compose files the way Docker Compose does, for static checks without Docker.

Covers what the deployment files use: YAML anchors and merge keys, the ``!reset`` and
``!override`` tags, ``${VAR:-default}`` interpolation, and the Compose Specification's
rules for merging several files (``13-merge.md``): mappings merge key by key, sequences
append, ``command``/``entrypoint``/``healthcheck.test`` are replaced, ``volumes``/``ports``
are unique by their target, ``environment`` and ``depends_on`` merge as mappings.
"""

from __future__ import annotations

import copy
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
BASE_FILE = REPO / "docker-compose.yml"
CLUSTER_FILE = REPO / "docker-compose.cluster.yml"
DOCKERFILE = REPO / "infra" / "Dockerfile"


@dataclass(frozen=True)
class Tagged:
    """A value carrying Compose's ``!reset`` or ``!override`` tag."""

    tag: str
    value: Any


class ComposeLoader(yaml.SafeLoader):
    """A safe YAML loader that keeps Compose's custom tags instead of refusing them."""


def _tagged(loader: ComposeLoader, node: yaml.Node) -> Tagged:
    if isinstance(node, yaml.MappingNode):
        plain_node: yaml.Node = yaml.MappingNode("tag:yaml.org,2002:map", node.value, flow_style=node.flow_style)
    elif isinstance(node, yaml.SequenceNode):
        plain_node = yaml.SequenceNode("tag:yaml.org,2002:seq", node.value, flow_style=node.flow_style)
    else:
        tag = loader.resolve(yaml.ScalarNode, node.value, (True, False))
        plain_node = yaml.ScalarNode(tag, node.value, style=node.style)
    return Tagged(node.tag, loader.construct_object(plain_node, deep=True))


ComposeLoader.add_constructor("!reset", _tagged)
ComposeLoader.add_constructor("!override", _tagged)


class InterpolationError(ValueError):
    pass


_VAR = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<named>[A-Za-z_][A-Za-z0-9_]*))"
)


def interpolate(value: Any, env: Mapping[str, str], where: str = "") -> Any:
    """Substitute ``$VAR``, ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``,
    ``${VAR:?error}``, ``${VAR:+alt}`` and ``$$`` in every string value (not in keys)."""
    if isinstance(value, Tagged):
        return Tagged(value.tag, interpolate(value.value, env, where))
    if isinstance(value, dict):
        return {k: interpolate(v, env, f"{where}.{k}" if where else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env, f"{where}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["braced"] or match["named"]
        op, arg = match["op"], match["arg"] or ""
        current = env.get(name)
        unset_or_empty = not current if op and op.startswith(":") else current is None
        if op in (":-", "-"):
            return arg if unset_or_empty else str(current)
        if op in (":?", "?"):
            if unset_or_empty:
                raise InterpolationError(f"{where}: required variable {name} is missing: {arg}")
            return str(current)
        if op in (":+", "+"):
            return "" if unset_or_empty else arg
        return current or ""

    return _VAR.sub(substitute, value)


def load(path: Path, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """One Compose file: parsed (tags kept) and interpolated with ``env`` (default: empty,
    so every ``${VAR:-default}`` takes its default)."""
    with path.open(encoding="utf-8") as fh:
        raw = yaml.load(fh, Loader=ComposeLoader)  # noqa: S506 - a SafeLoader subclass
    if not isinstance(raw, dict):
        raise ValueError(f"{path.name}: not a YAML mapping")
    return interpolate(raw, env or {})


def plain(value: Any) -> Any:
    """The value with Compose's tags dropped (for schema validation of one file)."""
    if isinstance(value, Tagged):
        return plain(value.value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


# -- merging, per the Compose Specification ------------------------------------------------

_MAPPING_LIKE = ("environment", "labels", "annotations", "sysctls", "extra_hosts")
_UNIQUE_BY_TARGET = ("volumes", "ports", "secrets", "configs")
_REPLACED = ("command", "entrypoint")


def as_mapping(value: Any, *, key: str) -> dict[str, Any]:
    """``environment``-style lists (``KEY=VALUE``) and ``depends_on`` lists as mappings."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return dict(value)
    if key == "depends_on":
        return {name: {"condition": "service_started"} for name in value}
    out: dict[str, Any] = {}
    for item in value:
        name, sep, val = str(item).partition("=")
        out[name] = val if sep else None
    return out


def _unique_key(key: str, entry: Any) -> Any:
    if key == "ports":
        if isinstance(entry, dict):
            return (
                entry.get("host_ip"),
                str(entry.get("target")),
                str(entry.get("published")),
                entry.get("protocol", "tcp"),
            )
        spec, _, protocol = str(entry).partition("/")
        parts = spec.rsplit(":", 2)
        ip = parts[0] if len(parts) == 3 else None
        published = parts[-2] if len(parts) >= 2 else None
        return (ip, parts[-1], published, protocol or "tcp")
    if isinstance(entry, dict):
        return entry.get("target", entry.get("source"))
    parts = str(entry).split(":")
    return parts[1] if len(parts) > 1 else parts[0]


def _merge_unique(key: str, base: list[Any], over: list[Any]) -> list[Any]:
    merged = {_unique_key(key, e): e for e in base}
    for entry in over:
        merged[_unique_key(key, entry)] = entry
    return list(merged.values())


def _env_files(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    items = [value] if isinstance(value, str) else value
    return [{"path": i} if isinstance(i, str) else dict(i) for i in items]


_RESET = object()


def _merge(base: Any, over: Any, path: tuple[str, ...]) -> Any:
    if isinstance(over, Tagged):
        return _RESET if over.tag == "!reset" else plain(over.value)
    if base is None:
        return plain(over)
    key = path[-1] if path else ""
    in_service = len(path) == 3 and path[0] == "services"
    if in_service and key in _REPLACED:
        return plain(over)
    if in_service and key in _MAPPING_LIKE + ("depends_on",):
        return _merge_mappings(as_mapping(base, key=key), as_mapping(over, key=key), path)
    if in_service and key in _UNIQUE_BY_TARGET:
        return _merge_unique(key, base, plain(over))
    if in_service and key == "env_file":
        seen = {e["path"]: e for e in _env_files(base)}
        seen.update({e["path"]: e for e in _env_files(plain(over))})
        return list(seen.values())
    if len(path) == 4 and path[0] == "services" and path[2] == "healthcheck" and key == "test":
        return plain(over)
    if isinstance(base, dict) and isinstance(over, dict):
        return _merge_mappings(base, over, path)
    if isinstance(base, list) and isinstance(over, list):
        return list(base) + [v for v in plain(over) if v not in base]
    return plain(over)


def _merge_mappings(base: dict[str, Any], over: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        merged = _merge(out.get(key), value, (*path, str(key)))
        if merged is _RESET:
            out.pop(key, None)
        else:
            out[key] = merged
    return out


def merge(*files: dict[str, Any]) -> dict[str, Any]:
    """The application model of ``docker compose -f a -f b …``."""
    model: dict[str, Any] = {}
    for document in files:
        model = _merge_mappings(model, document, ())
    return model


# -- reading the model ---------------------------------------------------------------------


def active_services(model: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services ``docker compose up`` starts when no profile is enabled."""
    return {name: svc for name, svc in (model.get("services") or {}).items() if not svc.get("profiles")}


def environment(service: dict[str, Any]) -> dict[str, str | None]:
    return {
        k: (None if v is None else str(v)) for k, v in as_mapping(service.get("environment"), key="environment").items()
    }


def argv(command: Any) -> list[str]:
    if command is None:
        return []
    return shlex.split(command) if isinstance(command, str) else [str(c) for c in command]


def is_govchain(service: dict[str, Any]) -> bool:
    """Built from infra/Dockerfile (or running its image): its entrypoint is ``govchain``."""
    build = service.get("build")
    if isinstance(build, dict):
        return (REPO / build.get("context", ".") / build.get("dockerfile", "Dockerfile")).resolve() == DOCKERFILE
    if isinstance(build, str):
        return (REPO / build / "Dockerfile").resolve() == DOCKERFILE
    return str(service.get("image", "")).startswith("govchain:")


def is_nats(service: dict[str, Any]) -> bool:
    image = str(service.get("image", ""))
    return image == "nats" or image.startswith(("nats:", "nats@"))


def volume_mounts(service: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(source, target, is_bind) of each volume entry; a bind source is a host path."""
    mounts = []
    for entry in service.get("volumes") or []:
        if isinstance(entry, dict):
            source, target = str(entry.get("source", "")), str(entry["target"])
            bind = entry.get("type") == "bind"
        else:
            parts = str(entry).split(":")
            if len(parts) == 1:
                source, target = "", parts[0]
            else:
                source, target = parts[0], parts[1]
            bind = source.startswith((".", "/", "~"))
        mounts.append((source, target, bind))
    return mounts


def host_path(service: dict[str, Any], container_path: str) -> Path | None:
    """The repository file a container path comes from, through the service's bind mounts."""
    best: tuple[int, Path] | None = None
    for source, target, bind in volume_mounts(service):
        target = target.rstrip("/")
        if bind and (container_path == target or container_path.startswith(target + "/")):
            candidate = (REPO / source / container_path[len(target) :].lstrip("/")).resolve()
            if best is None or len(target) > best[0]:
                best = (len(target), candidate)
    return None if best is None else best[1]


def healthcheck_argv(service: dict[str, Any]) -> list[str] | None:
    """The healthcheck's command line (``CMD`` form, or ``CMD-SHELL`` split like a shell)."""
    test = (service.get("healthcheck") or {}).get("test")
    if not test:
        return None
    if isinstance(test, str):
        return shlex.split(test)
    if test[0] == "CMD":
        return [str(t) for t in test[1:]]
    if test[0] == "CMD-SHELL":
        return shlex.split(" ".join(test[1:]))
    return None


# -- the models under test -----------------------------------------------------------------


def base_model() -> dict[str, Any]:
    return load(BASE_FILE)


def cluster_file() -> dict[str, Any]:
    return load(CLUSTER_FILE)


def cluster_model() -> dict[str, Any]:
    return merge(base_model(), cluster_file())


def documents() -> dict[str, dict[str, Any]]:
    """Every Compose document as written (tags dropped) and the merged cluster model."""
    return {
        "docker-compose.yml": plain(base_model()),
        "docker-compose.cluster.yml": plain(cluster_file()),
        "docker-compose.yml + docker-compose.cluster.yml": cluster_model(),
    }


def deployments() -> dict[str, dict[str, Any]]:
    """The models ``docker compose up`` runs: single-node, and merged with the cluster file."""
    return {
        "docker-compose.yml": plain(base_model()),
        "docker-compose.yml + docker-compose.cluster.yml": cluster_model(),
    }
