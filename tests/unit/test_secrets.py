"""Key material comes from 0600 files or settings and never shows in reprs or logs."""

from __future__ import annotations

from pathlib import Path

import pytest
import structlog

from govchain.config import Settings
from govchain.datadir import DataDir
from govchain.logs import configure_logging, get_logger
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
    a = pseudonym("1101 0119 9003 074512", key)
    assert a == pseudonym("110101199003074512", key)
    assert a != pseudonym("110101199003074512", b"\x00" * 32)
    assert a.startswith("c-") and len(a) == 34 and "110101" not in a
    with pytest.raises(ValueError):
        pseudonym("   ", key)
