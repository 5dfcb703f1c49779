"""The off-chain key vault: one data key per subject, wrapped by a key-encryption key (KEK),
and crypto-shredding by deleting the wrapped key.

Every personal field on chain is sealed under its subject's data key (see
:mod:`govchain.protocol.sealed`). The chain is append-only and replicated, so personal data
cannot be deleted from it; erasing the key instead makes every ciphertext of that subject
unreadable, on every node and in every copy of the chain, while the chain still verifies.

Envelope encryption. The database never holds a data key as such: each row holds the key
wrapped by the vault's KEK (AES-256-GCM bound to the subject and key version, see
:mod:`govchain.privacy.kek`) and the id of that KEK. The KEK lives outside the database
(``keys/vault.kek``, 0600, or ``GOVCHAIN_VAULT_KEK`` from a secret store), so a copy of the
database alone (a stolen file, a backup, a replica, a dump) decrypts nothing.

What erasure guarantees, and when. Erasure happens when the registry applies the on-chain
``personal_data.erased`` event, in the same transaction as the record of it
(:meth:`KeyVault.erase_within`); it deletes the wrapped key from the subject's row and
keeps the row as a tombstone, so no key is ever made for that subject again.

* At commit, everywhere: this vault never again returns the subject's key nor makes one.
* SQLite, at commit plus one checkpoint, which the registry runs right after the commit
  (:meth:`KeyVault.flush_erasures`): ``secure_delete`` has overwritten the wrapped key's
  bytes in its page with zeros, and ``wal_checkpoint(TRUNCATE)`` has copied that page into
  ``registry.db`` and emptied ``registry.db-wal``, so no page of the old row survives in
  the database's files. If the process dies between commit and checkpoint, or a reader
  holds the checkpoint off, the next erasure or the next opening of the vault checkpoints.
* PostgreSQL, at commit: the live row holds no key. The old row version (until VACUUM),
  the WAL, its archive, replicas and backups still hold the *wrapped* key: useless without
  the KEK.
* Backups, replicas, PostgreSQL's dead rows and WAL archive, and any filesystem remnant
  (SSD, copy-on-write, snapshots) of either database: after the next KEK rotation
  (``govchain vault rotate-kek``), which re-wraps the live keys under a new KEK and
  destroys the old one; from then on, every copy wrapped by the old KEK opens for nobody.
  This is the bounded window: erasure is complete for copies once the rotation after it
  has finished. It holds only if no copy of the old KEK survives either: a backup of
  ``keys/`` (or of the secret store) taken before the rotation defeats it, and overwriting
  the old KEK file is itself best effort on SSD / copy-on-write filesystems.

Not reached by erasure: clear values someone already decrypted (answers, caches, exports,
memory); a key held by a process that read it just before the erasure (no key is cached
here, so it is never used again afterwards); keys stored in clear by versions before
wrapping (revision 0001) in copies made before the upgrade: the upgrade wraps them and
scrubs the live database, but no rotation reaches a clear copy; destroy such backups.

Data keys and KEKs are secrets: they appear in no repr, exception or log message here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    Row,
    String,
    Table,
    Text,
    func,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError

from govchain.privacy.kek import Kek, KekError
from govchain.privacy.scrub import (
    make_sqlite_files_private,
    secure_delete_within,
    secure_deletes,
    truncate_wal,
    vacuum_full,
)
from govchain.protocol.errors import GovChainError
from govchain.protocol.sealed import SealedField, check_subject, open_sealed, seal
from govchain.storage.migrations import upgrade_to_head

KEY_VERSION = 1
"""The version of every key this vault creates; a subject has one key, never rotated yet."""
NO_KEY_VERSION = 0
"""Key version of a tombstone: a subject erased before any key was made for them."""

MIGRATIONS = Path(__file__).with_name("migrations")
"""The vault table's alembic scripts (version table ``alembic_version_privacy``)."""
TABLE = "privacy_subject_keys"

vault_metadata = MetaData()

subject_keys = Table(
    TABLE,
    vault_metadata,
    Column("subject", String(64), primary_key=True),
    Column("key_version", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("erased_at", DateTime(timezone=True), nullable=True),
    Column("erasure_reason", Text, nullable=True),
    Column("kek_id", String(16), nullable=True, comment="id of the KEK that wrapped the key; NULL once erased"),
    Column("wrapped_key", LargeBinary, nullable=True, comment="the data key wrapped by the KEK; NULL once erased"),
)


class KeyVaultError(GovChainError):
    """The vault's database refused a write, or the vault cannot unwrap; names no key material."""


class KekMismatch(KeyVaultError):
    """The vault holds keys wrapped by another KEK than the one it was opened with."""


class SubjectErased(GovChainError):
    """The subject's data key was erased: their sealed data is unreadable, and stays so."""

    def __init__(self, subject: str) -> None:
        super().__init__(f"the data key of subject {subject} was erased")
        self.subject = subject


class UnknownSubjectKey(GovChainError):
    """The vault holds no key of that version for the subject."""

    def __init__(self, subject: str, key_version: int) -> None:
        super().__init__(f"no data key version {key_version} for subject {subject}")
        self.subject = subject
        self.key_version = key_version


@dataclass(frozen=True)
class VaultStatus:
    kek_id: str | None
    live_keys: int
    erased: int
    wrapped_by: frozenset[str]


def live_kek_ids(engine: Engine) -> frozenset[str]:
    """Ids of the KEKs that wrap live keys (empty for a vault not yet made or not yet wrapped)."""
    with engine.connect() as conn:
        inspector = inspect(conn)
        if not inspector.has_table(TABLE) or "kek_id" not in {c["name"] for c in inspector.get_columns(TABLE)}:
            return frozenset()
        ids: list[str | None] = list(
            conn.execute(
                select(subject_keys.c.kek_id).distinct().where(subject_keys.c.wrapped_key.is_not(None))
            ).scalars()
        )
        return frozenset(i for i in ids if i is not None)


class KeyVault:
    """Data keys of subjects, wrapped by ``kek``, in a SQL database apart from the chain.

    Safe to share between processes on one database: the first key created for a subject
    wins and every process then uses it. An erased subject keeps its row, without key, as a
    tombstone: the primary key then stops any key from being created for them again.

    Without ``kek`` the vault can erase and answer :meth:`is_erased` (a projection rebuilt
    from the chain needs no more) but neither seals nor opens.
    """

    def __init__(self, engine: Engine, kek: Kek | None = None) -> None:
        self._engine = engine
        self._kek = kek
        secure_deletes(engine)
        upgraded: dict[str, int] = {}
        # Migrated like every other table; 0002 wraps keys an older vault kept in clear.
        upgrade_to_head(engine, MIGRATIONS, attributes={"vault_kek": kek, "vault_upgrade": upgraded})
        if upgraded.get("legacy_keys_wrapped"):
            vacuum_full(engine, TABLE)
        self.flush_erasures()  # finishes an erasure whose process died before its checkpoint
        make_sqlite_files_private(engine)
        if kek is not None:
            foreign = live_kek_ids(engine) - {kek.id}
            if foreign:
                raise KekMismatch(
                    f"the vault holds keys wrapped by KEK {', '.join(sorted(foreign))}, not by the KEK given "
                    f"({kek.id}): wrong keys/vault.kek or GOVCHAIN_VAULT_KEK?"
                )

    @property
    def kek_id(self) -> str | None:
        return None if self._kek is None else self._kek.id

    def key_for_sealing(self, subject: str) -> tuple[bytes, int]:
        """The subject's data key and its version, created on first use.

        Raises :class:`SubjectErased` for an erased subject: new personal data of a person
        who asked to be forgotten must not be sealed under a fresh key.
        """
        check_subject(subject)
        kek = self._need_kek()
        row = self._row(subject)
        if row is None:
            self._create_key(subject, kek)
            row = self._row(subject)
            assert row is not None, "rows are never deleted"
        if row.erased_at is not None:
            raise SubjectErased(subject)
        return self._unwrap(row), row.key_version

    def key_for_opening(self, subject: str, key_version: int) -> bytes:
        """The key a field of ``subject`` was sealed with; never creates one.

        Raises :class:`SubjectErased` if it was erased, :class:`UnknownSubjectKey` if this
        vault never had it.
        """
        row = self._row(subject)
        if row is not None and row.erased_at is not None:
            raise SubjectErased(subject)
        if row is None or row.key_version != key_version:
            raise UnknownSubjectKey(subject, key_version)
        return self._unwrap(row)

    def erase_within(self, conn: Connection, subject: str, reason: str) -> bool:
        """Crypto-shred inside the caller's transaction (a projection erasing as it applies
        the on-chain erasure, so the record of it and the shredding commit together).

        The caller runs :meth:`flush_erasures` once that transaction has committed."""
        check_subject(subject)
        now = datetime.now(UTC)
        secure_delete_within(conn)
        destroyed = conn.execute(
            update(subject_keys)
            .where(subject_keys.c.subject == subject, subject_keys.c.erased_at.is_(None))
            .values(wrapped_key=None, kek_id=None, erased_at=now, erasure_reason=reason)
        ).rowcount
        if (
            not destroyed
            and conn.execute(select(subject_keys.c.subject).where(subject_keys.c.subject == subject)).first() is None
        ):
            conn.execute(
                insert(subject_keys).values(
                    subject=subject,
                    key_version=NO_KEY_VERSION,
                    wrapped_key=None,
                    kek_id=None,
                    created_at=now,
                    erased_at=now,
                    erasure_reason=reason,
                )
            )
        return bool(destroyed)

    def erase(self, subject: str, reason: str) -> bool:
        """Crypto-shred a subject: delete their wrapped key and record when and why.

        Idempotent: erasing again changes nothing and keeps the first time and reason.
        Erasing a subject that has no key yet leaves a tombstone, so that none is ever
        created for them. Returns whether a key was destroyed by this call. See the module
        docstring for what erasure reaches, and when.
        """
        if not reason.strip():
            raise ValueError("an erasure needs a reason")
        while True:
            try:
                with self._engine.begin() as conn:
                    destroyed = self.erase_within(conn, subject, reason)
                break
            except IntegrityError:
                continue  # a key appeared between our update and our tombstone: go round and destroy it
        self.flush_erasures()
        return destroyed

    def flush_erasures(self) -> bool:
        """After an erasing transaction committed: SQLite checkpoints the WAL and truncates it,
        so no older page holding an erased key survives there (see :mod:`govchain.privacy.scrub`)."""
        return truncate_wal(self._engine)

    def is_erased(self, subject: str) -> bool:
        row = self._row(subject)
        return row is not None and row.erased_at is not None

    def seal_for(self, subject: str, value: Any, context: str) -> SealedField:
        """Seal a JSON value under the subject's key (created on first use); see :func:`seal`."""
        key, key_version = self.key_for_sealing(subject)
        return seal(
            value, subject=subject, key=key, key_version=key_version, context=context, suite=self._need_kek().suite
        )

    def open_for(self, field: SealedField, context: str) -> Any:
        """Open a sealed field with its subject's key; raises :class:`SubjectErased` once erased."""
        key = self.key_for_opening(field.subject, field.key_version)
        return open_sealed(field, key=key, context=context)

    def rewrap(self, new: Kek, *, before_commit: Callable[[], None] | None = None) -> int:
        """Re-wrap every live key under ``new`` in one transaction; return how many.

        From then on this vault uses ``new``. Run only while nothing else writes the vault
        (a key created meanwhile under the old KEK would be lost with it): see
        :func:`govchain.privacy.rotation.rotate_kek`."""
        old = self._need_kek()
        with self._engine.begin() as conn:
            secure_delete_within(conn)
            rows = conn.execute(
                select(subject_keys).where(subject_keys.c.wrapped_key.is_not(None)).with_for_update()
            ).all()
            for row in rows:
                key = self._unwrap(row)
                conn.execute(
                    update(subject_keys)
                    .where(subject_keys.c.subject == row.subject, subject_keys.c.kek_id == old.id)
                    .values(kek_id=new.id, wrapped_key=new.wrap(key, subject=row.subject, key_version=row.key_version))
                )
            if before_commit is not None:
                before_commit()
        self._kek = new
        self.flush_erasures()  # the WAL held every key wrapped by the old KEK too
        return len(rows)

    def status(self) -> VaultStatus:
        with self._engine.connect() as conn:
            live = conn.execute(
                select(func.count()).select_from(subject_keys).where(subject_keys.c.wrapped_key.is_not(None))
            ).scalar_one()
            erased = conn.execute(
                select(func.count()).select_from(subject_keys).where(subject_keys.c.erased_at.is_not(None))
            ).scalar_one()
        return VaultStatus(self.kek_id, live, erased, live_kek_ids(self._engine))

    def __repr__(self) -> str:
        return f"KeyVault(kek_id={self.kek_id})"

    def _need_kek(self) -> Kek:
        if self._kek is None:
            raise KeyVaultError("this vault was opened without its KEK: it can erase, not seal or open")
        return self._kek

    def _unwrap(self, row: Row[Any]) -> bytes:
        kek = self._need_kek()
        if row.wrapped_key is None:
            raise UnknownSubjectKey(row.subject, row.key_version)
        if row.kek_id != kek.id:
            raise KekMismatch(f"the key of subject {row.subject} is wrapped by KEK {row.kek_id}, not {kek.id}")
        try:
            return kek.unwrap(row.wrapped_key, subject=row.subject, key_version=row.key_version)
        except KekError as exc:
            raise KeyVaultError(str(exc)) from None

    def _row(self, subject: str) -> Row[Any] | None:
        with self._engine.connect() as conn:
            return conn.execute(select(subject_keys).where(subject_keys.c.subject == subject)).one_or_none()

    def _create_key(self, subject: str, kek: Kek) -> None:
        """Insert a fresh key; if another writer got there first (key or tombstone), theirs stands."""
        key = kek.suite.generate_aead_key()  # the chain's AEAD: AES-256 (32 bytes) or SM4 (16)
        self._insert(
            subject=subject,
            key_version=KEY_VERSION,
            kek_id=kek.id,
            wrapped_key=kek.wrap(key, subject=subject, key_version=KEY_VERSION),
            created_at=datetime.now(UTC),
            erased_at=None,
            erasure_reason=None,
        )

    def _insert(self, **values: Any) -> bool:
        """Insert a row in its own transaction; False if the subject already has one."""
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(subject_keys).values(**values))
        except IntegrityError:
            return False
        except DBAPIError as exc:
            # SQLAlchemy's message carries the statement's parameters, here a wrapped key: drop it.
            raise KeyVaultError(f"cannot write the key row: {type(exc.orig).__name__}") from None
        return True
