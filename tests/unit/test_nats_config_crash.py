"""``govchain nats-config`` killed at any point: what is left on disk, and the run after it.

It writes a credentials file for each new user, the chain's ``chains/<id>.json`` and then
``auth.conf``. A crash is injected before each of those writes and, within each, after the new
contents are durable but before they replace the old; every file on disk must then be whole
(old or new, never cut short), and running it again must leave every password agreeing with
its hash in ``auth.conf``, every other chain's users kept and no password of theirs changed.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import bcrypt
import pytest

from govchain.bus import credentials
from govchain.bus.credentials import read_credentials, write_nats_auth
from govchain.bus.permissions import Deployment
from govchain.bus.subjects import DEFAULT, ChainNames

EAST = ChainNames("east")


class Killed(Exception):
    """The process died here."""


def users_in(auth_conf: str) -> dict[str, str]:
    """Each user of the authorization block and its bcrypt hash."""
    return dict(re.findall(r'"user": "([^"]+)",\s*"password": "([^"]+)"', auth_conf))


def assert_whole(directory: Path) -> None:
    """Every file there is one a completed write made: JSON that parses, an authorization block
    that closes, credentials with both lines."""
    for chain_file in (directory / "chains").glob("*.json"):
        assert isinstance(json.loads(chain_file.read_text()), list), chain_file
    conf = directory / "auth.conf"
    if conf.exists():
        assert conf.read_text().rstrip().endswith("}") and users_in(conf.read_text()), conf
    for env in (directory / "credentials").glob("*.env"):
        assert re.fullmatch(r"GOVCHAIN_NATS_USER=\S+\nGOVCHAIN_NATS_PASSWORD=\S+\n", env.read_text()), env


def assert_agree(directory: Path) -> dict[str, str]:
    """Every user of ``auth.conf`` logs in with the password in its credentials file; every
    file is private (0600) and no half-written one is left beside them."""
    files = [path for path in directory.rglob("*") if path.is_file()]
    assert [path.name for path in files if path.suffix == ".tmp"] == []
    assert {oct(path.stat().st_mode & 0o777) for path in files} == {oct(0o600)}
    users = users_in((directory / "auth.conf").read_text())
    for user, hashed in users.items():
        _, password = read_credentials(directory, user)
        assert bcrypt.checkpw(password.encode(), hashed.encode()), user
    return users


def crashing(real: Callable[..., None], at: int, *, mid_write: bool) -> Callable[..., None]:
    """``write_private_durably`` that dies at its ``at``-th call: before writing, or once the
    new contents are durable beside the file but not yet renamed over it."""
    calls = 0

    def write(path: Path, data: bytes) -> None:
        nonlocal calls
        calls += 1

        def die() -> None:
            raise Killed(path)

        if calls != at:
            real(path, data)
        elif mid_write:
            real(path, data, before_rename=die)
        else:
            die()

    return write


@pytest.fixture(autouse=True)
def quick_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """bcrypt's cost is not under test: the fewest rounds it allows."""
    monkeypatch.setattr(
        credentials, "_bcrypt", lambda password: bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
    )


@pytest.mark.parametrize("mid_write", [False, True], ids=["before a write", "between write and rename"])
def test_a_nats_config_killed_anywhere_leaves_whole_files_and_the_next_run_agrees(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mid_write: bool
) -> None:
    deployment = Deployment(departments={"tax", "land"})
    base = tmp_path / "base"
    write_nats_auth(base, deployment, DEFAULT)  # the default chain's users, already deployed
    default_users = assert_agree(base)
    default_passwords = {user: read_credentials(base, user) for user in default_users}
    real = credentials.write_private_durably
    crash_points = 0
    while True:
        crash_points += 1
        folder = tmp_path / f"crash-{crash_points}"
        shutil.copytree(base, folder)
        monkeypatch.setattr(credentials, "write_private_durably", crashing(real, crash_points, mid_write=mid_write))
        try:
            write_nats_auth(folder, deployment, EAST)  # a second chain's users into the same folder
            finished = True
        except Killed:
            finished = False
        monkeypatch.setattr(credentials, "write_private_durably", real)
        assert_whole(folder)
        if finished:
            break
        write_nats_auth(folder, deployment, EAST)  # the operator runs it again
        users = assert_agree(folder)
        assert {EAST.user(name) for name in ("ledger", "tax", "land")} <= set(users)
        assert {user: read_credentials(folder, user) for user in default_users} == default_passwords
        assert set(default_users) <= set(users)
    assert crash_points > 5  # each credentials file, the chain's file and auth.conf were crash points
