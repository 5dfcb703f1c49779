"""Key material comes from 0600 files or settings and never shows in reprs or logs."""

from __future__ import annotations

from pathlib import Path

import pytest
import structlog

from govchain.config import Settings
from govchain.crypto import CHECKPOINT_SUITE, GM, INTL
from govchain.datadir import CHECKPOINT_KEY, DataDir, DataDirError
from govchain.logs import configure_logging, get_logger
from govchain.protocol.errors import KeyFileError
from govchain.protocol.genesis import genesis_payload
from govchain.protocol.keys import SigningKey
from govchain.pseudonym import pseudonym


def test_the_orderer_key_can_come_from_settings_and_stays_out_of_reprs(tmp_path: Path) -> None:
    key = SigningKey.generate()
    pem = key.to_pem().decode()
    settings = Settings(data_dir=tmp_path, orderer_key=pem, pseudonym_key="ab" * 32)
    assert DataDir(tmp_path).signing_key("orderer", settings.orderer_key).key_id == key.key_id
    body = pem.splitlines()[1]
    assert body not in repr(settings) and body not in str(settings.model_dump())
    assert "ab" * 32 not in repr(settings)
    assert body not in repr(key) and key.key_id in repr(key)


def test_logging_a_key_or_the_settings_reveals_no_secret(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key = SigningKey.generate()
    settings = Settings(data_dir=tmp_path, orderer_key=key.to_pem().decode())
    configure_logging("INFO", "json")
    try:
        get_logger("test").info("starting", key=key, settings=settings)
    finally:
        structlog.reset_defaults()
    logged = capsys.readouterr().err
    assert "starting" in logged and key.key_id in logged
    assert key.to_pem().decode().splitlines()[1] not in logged


def test_pseudonyms_depend_on_the_key_and_normalise_the_national_id(tmp_path: Path) -> None:
    data = DataDir(tmp_path)
    data.init("pseudonyms")
    key = data.pseudonym_key()
    assert (tmp_path / "keys" / "pseudonym.key").stat().st_mode & 0o777 == 0o600
    suite = data.crypto_suite()
    a = pseudonym("1101 0119 9003 074512", key, suite=suite)
    assert a == pseudonym("110101199003074512", key, suite=suite)
    assert a != pseudonym("110101199003074512", b"\x00" * 32, suite=suite)
    assert a.startswith("c-") and len(a) == 34 and "110101" not in a
    with pytest.raises(ValueError):
        pseudonym("   ", key, suite=suite)


def test_a_pseudonym_names_its_suite_so_a_gm_chain_never_gets_an_intl_one() -> None:
    """No default suite: a caller that forgets it fails at once instead of computing the intl
    HMAC on a gm chain; and the suite is keyword-only, so it is never passed by mistake."""
    with pytest.raises(TypeError):
        pseudonym("110101199003074512", b"\x01" * 32)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        pseudonym("110101199003074512", b"\x01" * 32, INTL)  # type: ignore[misc]


needs_gm = pytest.mark.skipif(not GM.available, reason="the gm profile needs gmssl-pyx (x86-64 wheels only)")


def _gm_chain_without_its_checkpoint_file(tmp_path: Path) -> tuple[DataDir, str]:
    """A gm chain whose ledger folder holds no keys/checkpoint.pem (as `govchain custody split`
    leaves it), and that key's PEM, as a secret store would hand it over."""
    data = DataDir(tmp_path / "chain")
    data.init("checkpoint-secret", crypto="gm")
    file = data.key_file(CHECKPOINT_KEY)
    pem = file.read_text()
    file.unlink()
    return data, pem


@needs_gm
def test_a_gm_chains_checkpoint_key_can_come_from_settings_and_stays_out_of_reprs_and_logs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data, pem = _gm_chain_without_its_checkpoint_file(tmp_path)
    with pytest.raises(KeyFileError):
        data.checkpoint_key()  # neither the file nor the setting
    monkeypatch.setenv("GOVCHAIN_CHECKPOINT_KEY", pem)
    settings = Settings(data_dir=data.root)
    key = data.checkpoint_key(settings.orderer_key, settings.checkpoint_key)
    assert key.suite is CHECKPOINT_SUITE
    assert key.public.hex == genesis_payload(data.genesis()).checkpoint_key
    body = pem.splitlines()[1]
    assert body not in repr(settings) and body not in str(settings.model_dump())
    configure_logging("INFO", "json")
    try:
        get_logger("test").info("starting", settings=settings, key=key)
    finally:
        structlog.reset_defaults()
    assert body not in capsys.readouterr().err


@needs_gm
def test_a_checkpoint_key_genesis_does_not_name_is_refused_without_showing_it(tmp_path: Path) -> None:
    data, _ = _gm_chain_without_its_checkpoint_file(tmp_path)
    stranger = SigningKey.generate(CHECKPOINT_SUITE).to_pem().decode()
    with pytest.raises(DataDirError, match="GOVCHAIN_CHECKPOINT_KEY is not the checkpoint key") as refused:
        data.checkpoint_key(checkpoint_pem=Settings(checkpoint_key=stranger).checkpoint_key)
    assert stranger.splitlines()[1] not in str(refused.value)


def test_an_intl_chain_takes_no_checkpoint_key_but_an_empty_setting_is_no_setting(tmp_path: Path) -> None:
    """An intl chain's orderer key signs its checkpoints: a checkpoint key given to it is a
    mixed-up secret, refused; compose's empty ``${GOVCHAIN_CHECKPOINT_KEY:-}`` is unset."""
    data = DataDir(tmp_path)
    data.init("intl-checkpoints")
    stray = SigningKey.generate().to_pem().decode()
    with pytest.raises(DataDirError, match="genesis names no checkpoint key"):
        data.checkpoint_key(checkpoint_pem=Settings(checkpoint_key=stray).checkpoint_key)
    empty = Settings(checkpoint_key="").checkpoint_key
    assert empty is None
    assert data.checkpoint_key(checkpoint_pem=empty).key_id == data.signing_key("orderer").key_id
