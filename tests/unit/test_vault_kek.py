"""The vault KEK: wrapping bound to its subject, its files (0600, durable, destroyed on
rotation), and the helpers that keep the platform's files private."""

from __future__ import annotations

import os
import pickle
import stat
from pathlib import Path

import pytest

from govchain.privacy.kek import WRAPPED_BYTES, Kek, KekError
from govchain.privacy.kekfiles import KekFiles, load_kek
from govchain.privatefiles import make_tree_private, shred_file, write_private, write_private_durably

ADA = "c-" + "a1" * 16
BOB = "c-" + "b2" * 16
DATA_KEY = bytes(range(32))


def test_a_wrapped_key_unwraps_only_under_its_kek_for_its_subject_and_version() -> None:
    kek = Kek.generate()
    wrapped = kek.wrap(DATA_KEY, subject=ADA, key_version=1)
    assert len(wrapped) == WRAPPED_BYTES and DATA_KEY not in wrapped
    assert kek.unwrap(wrapped, subject=ADA, key_version=1) == DATA_KEY
    for subject, version in ((BOB, 1), (ADA, 2)):  # moved to another subject, or relabelled
        with pytest.raises(KekError, match="does not unwrap"):
            kek.unwrap(wrapped, subject=subject, key_version=version)
    with pytest.raises(KekError, match="does not unwrap"):
        Kek.generate().unwrap(wrapped, subject=ADA, key_version=1)
    tampered = wrapped[:-1] + bytes([wrapped[-1] ^ 1])
    with pytest.raises(KekError):
        kek.unwrap(tampered, subject=ADA, key_version=1)
    assert kek.wrap(DATA_KEY, subject=ADA, key_version=1) != wrapped  # a fresh nonce each time


def test_the_kek_id_names_the_key_without_revealing_it() -> None:
    kek = Kek.generate()
    assert Kek.from_hex(kek.hex(), what="x").id == kek.id != Kek.generate().id
    assert len(kek.id) == 16
    for text in (repr(kek), str(kek)):
        assert kek.hex() not in text and kek.id in text
    with pytest.raises(TypeError):
        pickle.dumps(kek)


@pytest.mark.parametrize("text, problem", [("zz" * 32, "not hex"), ("ab" * 16, "32 bytes")])
def test_a_malformed_kek_is_refused_without_echoing_it(text: str, problem: str) -> None:
    with pytest.raises(KekError, match=problem) as refused:
        Kek.from_hex(text, what="GOVCHAIN_VAULT_KEK")
    assert text not in str(refused.value)


def test_the_kek_file_is_0600_never_overwritten_and_refused_when_others_may_read(tmp_path: Path) -> None:
    files = KekFiles(tmp_path / "keys")
    kek = files.create_current()
    assert stat.S_IMODE(files.current.stat().st_mode) == 0o600
    assert stat.S_IMODE(files.keys.stat().st_mode) == 0o700
    assert files.load_current().id == kek.id == files.current_or_new().id
    with pytest.raises(KekError, match="overwrite"):
        files.create_current()
    os.chmod(files.current, 0o640)
    with pytest.raises(KekError, match="readable by others"):
        load_kek(files.current)


def test_promoting_the_next_kek_destroys_the_old_one(tmp_path: Path) -> None:
    files = KekFiles(tmp_path / "keys")
    old = files.create_current()
    new = Kek.generate()
    files.stage_next(new)
    assert files.rotation_pending() and files.load_current().id == old.id
    holder = os.open(files.current, os.O_RDONLY)  # the old file's inode, as a forensic reader keeps it
    try:
        seen_at_switch: list[str] = []
        files.promote_next(after_switch=lambda: seen_at_switch.append(files.load_current().id))
        assert seen_at_switch == [new.id]  # never a moment without a usable current KEK
        assert os.pread(holder, 200, 0).strip(b"\0") == b""  # the old contents were overwritten
    finally:
        os.close(holder)
    assert not files.rotation_pending()
    assert files.load_current().id == new.id
    assert sorted(p.name for p in files.keys.iterdir()) == ["vault.kek"]


def test_a_durable_write_replaces_whole_and_shreds_a_stale_temporary(tmp_path: Path) -> None:
    target = tmp_path / "f"
    stale = tmp_path / "f.tmp"
    stale.write_bytes(b"left by a crash")
    write_private_durably(target, b"new")
    assert target.read_bytes() == b"new" and not stale.exists()
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert shred_file(target) and not target.exists() and not shred_file(target)


def test_write_private_fixes_the_mode_of_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    path.write_text("{}")
    os.chmod(path, 0o644)
    write_private(path, b"{}")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_an_old_folder_is_made_private_throughout(tmp_path: Path) -> None:
    root = tmp_path / "node"
    (root / "db").mkdir(parents=True)
    (root / "db" / "registry.db").write_bytes(b"x")
    (root / "genesis.json").write_text("{}")
    (root / "keys").mkdir(mode=0o700)
    os.chmod(root, 0o755)
    os.chmod(root / "db", 0o755)
    os.chmod(root / "db" / "registry.db", 0o644)
    os.chmod(root / "genesis.json", 0o664)
    (root / "link").symlink_to("/etc/hostname")
    changed = make_tree_private(root)
    assert {p.relative_to(tmp_path).as_posix() for p in changed} == {
        "node",
        "node/db",
        "node/db/registry.db",
        "node/genesis.json",
    }
    modes = {p.relative_to(root).as_posix(): stat.S_IMODE(p.lstat().st_mode) for p in root.rglob("*")}
    assert modes["db"] == 0o700 and modes["db/registry.db"] == 0o600 and modes["genesis.json"] == 0o600
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    assert make_tree_private(root) == []


def test_a_journal_that_vanishes_while_the_folder_is_made_private_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another service deletes its SQLite journal between the walk and the chmod: that must not
    stop the service that is starting (it once crashed `govchain serve registry`)."""
    root = tmp_path / "node"
    (root / "db").mkdir(parents=True)
    journal, kept = root / "db" / "analytics.db-journal", root / "db" / "registry.db"
    journal.write_bytes(b"j")
    kept.write_bytes(b"x")
    os.chmod(kept, 0o644)
    os.chmod(journal, 0o644)
    walk = os.walk

    def walk_then_delete(top: Path) -> object:
        yield from walk(top)
        journal.unlink(missing_ok=True)  # gone after the listing, before the chmod

    monkeypatch.setattr(os, "walk", walk_then_delete)
    changed = {p.name for p in make_tree_private(root)}
    assert "registry.db" in changed and "analytics.db-journal" not in changed
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
