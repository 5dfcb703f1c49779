"""data keys wrapped by the vault KEK instead of stored in clear

Adds ``kek_id`` and ``wrapped_key``, wraps every key kept in clear in ``data_key`` with the
KEK the vault was opened with (alembic attribute ``vault_kek``, bound to the subject and
key version as the vault does), and drops ``data_key``. Tombstones stay tombstones.

The vault turns ``secure_delete`` on for this connection, so the pages that held the clear
keys are zeroed as they are freed; it then checkpoints the SQLite WAL (PostgreSQL: VACUUM
FULL) once this migration has committed. Copies made before the upgrade keep the clear keys.

Revision ID: 0002
Revises: 0001
Create Date: 2027-01-15
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_keys = sa.table(
    "privacy_subject_keys",
    sa.column("subject", sa.String),
    sa.column("key_version", sa.Integer),
    sa.column("data_key", sa.LargeBinary),
    sa.column("kek_id", sa.String),
    sa.column("wrapped_key", sa.LargeBinary),
)


def upgrade() -> None:
    from govchain.privacy.vault import KeyVaultError  # at run time: the vault imports this package's env

    attributes = context.config.attributes
    kek = attributes.get("vault_kek")
    with op.batch_alter_table("privacy_subject_keys") as batch:
        batch.add_column(
            sa.Column(
                "kek_id",
                sa.String(length=16),
                nullable=True,
                comment="id of the KEK that wrapped the key; NULL once erased",
            )
        )
        batch.add_column(
            sa.Column(
                "wrapped_key",
                sa.LargeBinary(),
                nullable=True,
                comment="the data key wrapped by the KEK; NULL once erased",
            )
        )
    bind = op.get_bind()
    clear = bind.execute(
        sa.select(_keys.c.subject, _keys.c.key_version, _keys.c.data_key).where(_keys.c.data_key.is_not(None))
    ).all()
    if clear and kek is None:
        raise KeyVaultError(
            f"the vault holds {len(clear)} data keys in clear from an older version: open it with its KEK "
            "(keys/vault.kek or GOVCHAIN_VAULT_KEK) to wrap them"
        )
    for row in clear:
        assert kek is not None  # refused above when there are keys to wrap and no KEK
        bind.execute(
            sa.update(_keys)
            .where(_keys.c.subject == row.subject)
            .values(
                kek_id=kek.id,
                wrapped_key=kek.wrap(bytes(row.data_key), subject=row.subject, key_version=row.key_version),
                data_key=None,
            )
        )
    with op.batch_alter_table("privacy_subject_keys") as batch:
        batch.drop_column("data_key")
    attributes.get("vault_upgrade", {})["legacy_keys_wrapped"] = len(clear)


def downgrade() -> None:
    raise NotImplementedError("going back to 0001 would store every data key in clear; restore a backup instead")
