"""Files the platform writes are private to its user: 0600 files in 0700 folders.

The data folder holds every person's wrapped data key, the vault's key-encryption key, the
chain and the projections: nobody else on the host has any business reading them. Three
layers make it so:

* :func:`use_private_umask` at process start (the ``govchain`` command's entry point), so
  every file this process *and its children* (the embedded nats-server, SQLite's -wal and
  -shm) create is born without group/other bits;
* :func:`make_tree_private` at ``init``/``up``/``serve``, for folders made by an older
  version (or by a process with a looser umask);
* :func:`write_private` / :func:`write_private_durably` for files whose mode must not
  depend on the umask at all (keys, genesis, run info); :func:`read_secret_file` refuses a
  secret that has become readable by others.

:func:`shred_file` overwrites before unlinking. That is best effort: on SSDs (wear
levelling), copy-on-write filesystems (btrfs, ZFS, APFS), snapshots and some journalling
modes the old blocks may survive the overwrite. Destroying a key file protects what it
wrapped only together with keeping no other copy of it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

PRIVATE_UMASK = 0o077
"""Group and others get no bits on anything created after :func:`use_private_umask`."""
SHARED_BITS = stat.S_IRWXG | stat.S_IRWXO


def read_secret_file(path: Path, *, what: str, error: type[Exception]) -> bytes:
    """The contents of a file holding a secret (a key, a KEK), as ``error`` with a readable
    reason if it cannot be read or if group or others may read it: a secret others can read
    is no longer one, and using it would hide that."""
    try:
        mode = path.stat().st_mode
        data = path.read_bytes()
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror}") from exc
    if mode & SHARED_BITS:
        raise error(f"{what} {path} is readable by others (mode {stat.filemode(mode)}); run chmod 600")
    return data


def use_private_umask() -> int:
    """Set the process umask to 0o077 (inherited by child processes); return the old one."""
    return os.umask(PRIVATE_UMASK)


def make_tree_private(root: Path) -> list[Path]:
    """Take group/other bits off ``root`` and everything under it; return what changed.

    Symbolic links are neither followed nor changed, and entries owned by another user are
    left alone (chmod would fail; they are not ours to fix). An entry that vanishes meanwhile is
    skipped: the other services sharing the folder keep creating and deleting SQLite journals."""
    changed: list[Path] = []
    if not root.exists():
        return changed
    uid = os.getuid()
    paths = [root]
    for folder, dirs, files in os.walk(root):
        paths.extend(Path(folder, name) for name in (*dirs, *files))
    for path in paths:
        try:
            info = os.lstat(path)
            if stat.S_ISLNK(info.st_mode) or info.st_uid != uid or not info.st_mode & SHARED_BITS:
                continue
            os.chmod(path, stat.S_IMODE(info.st_mode) & ~SHARED_BITS)
        except FileNotFoundError:
            continue
        changed.append(path)
    return changed


def private_folder(path: Path) -> Path:
    """Create ``path`` (and parents) if missing and make it 0700."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def write_private(path: Path, data: bytes) -> None:
    """Write (or replace the contents of) a 0600 file, whatever the umask."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an existing file keeps its mode on open: set it
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def fsync_folder(path: Path) -> None:
    """Make a rename or unlink in ``path`` durable (POSIX: the folder's entry is data too)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def staging_path(path: Path) -> Path:
    """Where :func:`write_private_durably` writes before it renames into ``path``."""
    return path.with_name(path.name + ".tmp")


def write_private_durably(path: Path, data: bytes, *, before_rename: Callable[[], None] | None = None) -> None:
    """Write a 0600 file so that after a crash ``path`` holds either nothing or all of ``data``:
    write a temporary file, fsync it, rename it over ``path``, fsync the folder.

    A temporary file left by an earlier crash is shredded first. ``before_rename`` runs once
    the temporary file is durable (a test injects a crash there)."""
    staging = staging_path(path)
    shred_file(staging)
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    if before_rename is not None:
        before_rename()
    os.replace(staging, path)
    fsync_folder(path.parent)


def overwrite_open_file(fd: int) -> None:
    """Overwrite a file's whole contents with zeros through ``fd`` and fsync (best effort, see
    the module docstring); works on a file already unlinked or renamed over."""
    size = os.fstat(fd).st_size
    written = 0
    while written < size:
        written += os.pwrite(fd, b"\0" * (size - written), written)
    os.fsync(fd)


def shred_file(path: Path) -> bool:
    """Overwrite a file with zeros, fsync, unlink it and fsync its folder; False if absent."""
    try:
        fd = os.open(path, os.O_WRONLY)
    except FileNotFoundError:
        return False
    try:
        overwrite_open_file(fd)
    finally:
        os.close(fd)
    path.unlink()
    fsync_folder(path.parent)
    return True
