"""The key vault on real databases (SQLite and PostgreSQL): keys per subject, crypto-shredding."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, Row, select

from govchain.privacy.fields import SealedFieldError
from govchain.privacy.kek import Kek
from govchain.privacy.vault import KeyVault, SubjectErased, UnknownSubjectKey, subject_keys
from govchain.storage.engine import make_engine

ADA = "c-" + "a1" * 16
BOB = "c-" + "b2" * 16
CONTEXT = "business.registered/owner_details/B-001"


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def kek() -> Kek:
    return Kek.generate()


@pytest.fixture
def vault(engine: Engine, kek: Kek) -> KeyVault:
    return KeyVault(engine, kek)


def test_key_is_created_once_and_reused(vault: KeyVault) -> None:
    key, version = vault.key_for_sealing(ADA)
    assert len(key) == 32 and version == 1
    assert vault.key_for_sealing(ADA) == (key, version)
    assert vault.key_for_opening(ADA, version) == key


def test_subjects_get_different_keys(vault: KeyVault) -> None:
    assert vault.key_for_sealing(ADA)[0] != vault.key_for_sealing(BOB)[0]


def test_seal_for_and_open_for(vault: KeyVault) -> None:
    field = vault.seal_for(ADA, {"name": "Ada", "born": 1815}, CONTEXT)
    assert field.subject == ADA
    assert vault.open_for(field, CONTEXT) == {"name": "Ada", "born": 1815}
    with pytest.raises(SealedFieldError):
        vault.open_for(field, "business.registered/owner_details/B-002")


def test_opening_never_creates_a_key(vault: KeyVault) -> None:
    with pytest.raises(UnknownSubjectKey):
        vault.key_for_opening(ADA, 1)
    vault.key_for_sealing(ADA)
    with pytest.raises(UnknownSubjectKey):
        vault.key_for_opening(ADA, 2)
    assert not vault.is_erased(ADA)


def test_erase_makes_sealed_data_unreadable_and_refuses_sealing(vault: KeyVault) -> None:
    field = vault.seal_for(ADA, "Ada Lovelace", CONTEXT)
    bob_field = vault.seal_for(BOB, "Bob", CONTEXT)

    assert vault.erase(ADA, "GDPR art. 17 request #42") is True

    assert vault.is_erased(ADA)
    with pytest.raises(SubjectErased, match=ADA):
        vault.open_for(field, CONTEXT)
    with pytest.raises(SubjectErased):
        vault.key_for_opening(ADA, 1)
    with pytest.raises(SubjectErased):
        vault.key_for_sealing(ADA)
    with pytest.raises(SubjectErased):
        vault.seal_for(ADA, "new data", CONTEXT)
    # Other subjects are untouched.
    assert not vault.is_erased(BOB)
    assert vault.open_for(bob_field, CONTEXT) == "Bob"


def test_erase_is_idempotent_and_keeps_the_first_record(vault: KeyVault, engine: Engine) -> None:
    vault.key_for_sealing(ADA)
    assert vault.erase(ADA, "first request") is True
    first = _row(engine, ADA)
    assert vault.erase(ADA, "second request") is False
    again = _row(engine, ADA)
    assert (again.erased_at, again.erasure_reason) == (first.erased_at, "first request")


def test_erased_row_keeps_no_key_bytes(vault: KeyVault, engine: Engine) -> None:
    vault.key_for_sealing(ADA)
    vault.erase(ADA, "request #7")
    row = _row(engine, ADA)
    assert row.wrapped_key is None and row.kek_id is None
    assert row.erased_at is not None
    assert row.erasure_reason == "request #7"
    assert row.key_version == 1


def test_erasing_a_subject_without_key_forbids_ever_creating_one(vault: KeyVault, engine: Engine) -> None:
    assert vault.erase(ADA, "asked before any data was sealed") is False
    assert vault.is_erased(ADA)
    assert _row(engine, ADA).wrapped_key is None
    with pytest.raises(SubjectErased):
        vault.key_for_sealing(ADA)
    with pytest.raises(SubjectErased):
        vault.key_for_opening(ADA, 1)


def test_erase_needs_a_reason(vault: KeyVault) -> None:
    with pytest.raises(ValueError, match="reason"):
        vault.erase(ADA, "  ")


def test_refuses_subjects_that_are_not_pseudonyms(vault: KeyVault) -> None:
    with pytest.raises(ValueError, match="pseudonymous"):
        vault.key_for_sealing("1985-03-07-1234")


def test_a_second_vault_on_the_same_database_sees_the_same_keys(db_url: str, vault: KeyVault, kek: Kek) -> None:
    field = vault.seal_for(ADA, "Ada Lovelace", CONTEXT)
    key = vault.key_for_sealing(ADA)
    vault.key_for_sealing(BOB)
    vault.erase(BOB, "request #9")

    other_engine = make_engine(db_url)
    try:
        other = KeyVault(other_engine, kek)  # migrating an up-to-date table is a no-op
        assert other.key_for_sealing(ADA) == key
        assert other.open_for(field, CONTEXT) == "Ada Lovelace"
        assert other.is_erased(BOB)
        with pytest.raises(SubjectErased):
            other.key_for_sealing(BOB)
    finally:
        other_engine.dispose()


def test_reprs_and_errors_hold_no_key(vault: KeyVault) -> None:
    key, _ = vault.key_for_sealing(ADA)
    with pytest.raises(UnknownSubjectKey) as unknown:
        vault.key_for_opening(ADA, 2)
    for text in (repr(vault), str(unknown.value), repr(unknown.value)):
        assert key.hex() not in text and repr(key) not in text


def _row(engine: Engine, subject: str) -> Row[Any]:
    """The vault's row, read straight from the table rather than through the vault."""
    with engine.connect() as conn:
        return conn.execute(select(subject_keys).where(subject_keys.c.subject == subject)).one()
