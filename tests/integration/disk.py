"""Looking at what a data folder really holds: secrets in any file, and file modes."""

from __future__ import annotations

import stat
from collections.abc import Mapping
from pathlib import Path


def needles_of(secret: bytes) -> list[bytes]:
    """The secret and its halves: a page split or a partial overwrite must not hide a copy."""
    half = len(secret) // 2
    return [secret, secret[:half], secret[half:]]


def find(root: Path, secrets: Mapping[str, bytes | list[bytes]]) -> dict[str, list[str]]:
    """Which named secrets occur in which files under ``root`` (every file, read whole; the
    database, its -wal and -shm, the NATS store, keys, logs)."""
    found: dict[str, list[str]] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
        try:
            content = path.read_bytes()
        except FileNotFoundError:  # a running platform removed it meanwhile
            continue
        for name, value in secrets.items():
            pieces = value if isinstance(value, list) else [value]
            if any(piece in content for piece in pieces):
                found.setdefault(name, []).append(path.relative_to(root).as_posix())
    return found


def shared_modes(root: Path) -> dict[str, str]:
    """Every entry under ``root`` (itself included) that group or others may use, with its mode."""
    loose = {}
    for path in [root, *root.rglob("*")]:
        mode = path.lstat().st_mode
        if not stat.S_ISLNK(mode) and mode & (stat.S_IRWXG | stat.S_IRWXO):
            loose[path.relative_to(root).as_posix() or "."] = stat.filemode(mode)
    return loose
