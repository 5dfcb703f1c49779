"""Settings: every tunable and every secret comes from here (``GOVCHAIN_*`` environment
variables or command-line flags), never from code."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from govchain.bus.embedded import SYNC_ALWAYS, check_sync_interval
from govchain.bus.subjects import ChainNames
from govchain.protocol.cutter import DEFAULT_MAX_COUNT, DEFAULT_MAX_WAIT_MS, DEFAULT_PREFERRED_BYTES, BlockLimits


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GOVCHAIN_", extra="ignore")

    data_dir: Path = Field(default=Path(".govchain"), description="keys, genesis, NATS and SQLite data")
    chain: str | None = Field(
        default=None,
        description="the chain this process serves on a NATS cluster shared by several chains: its streams and "
        "subjects carry this id (EVENTS_<id>, gov-<id>.>) and it must be genesis's chain id; unset: the default "
        "names (EVENTS, gov.>)",
    )
    nats_url: str | None = Field(
        default=None, description="external NATS server; when unset, an embedded one is started"
    )
    nats_port: int = Field(default=4222, ge=0, le=65535, description="preferred embedded NATS port")
    nats_sync_interval: str = Field(
        default=SYNC_ALWAYS,
        description="embedded NATS: JetStream fsyncs each write before acking it (always), or only every "
        "Go duration (2m, 10s, 500ms), so a power cut can lose what was acknowledged since",
    )
    nats_user: str | None = None
    nats_password: SecretStr | None = None
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL of the service's store; default SQLite in data_dir"
    )
    orderer_key: SecretStr | None = Field(
        default=None,
        description="the orderer's private key (PEM) instead of keys/orderer.pem, e.g. from a secret store",
    )
    checkpoint_key: SecretStr | None = Field(
        default=None,
        description="a gm (国密) chain's Ed25519 checkpoint key (PEM) instead of keys/checkpoint.pem, e.g. from a "
        "secret store; empty or unset on an intl chain, whose checkpoints the orderer key signs",
    )
    pseudonym_key: SecretStr | None = Field(
        default=None, description="the citizens' pseudonym HMAC key (hex) instead of keys/pseudonym.key"
    )
    vault_kek: SecretStr | None = Field(
        default=None, description="the key vault's key-encryption key (64 hex digits) instead of keys/vault.kek"
    )
    genesis_hash: str | None = Field(default=None, description="pin of block 0's hash (trust anchor)")
    batch_max_count: int = Field(default=DEFAULT_MAX_COUNT, ge=1)
    batch_preferred_bytes: int = Field(default=DEFAULT_PREFERRED_BYTES, ge=1024)
    batch_max_wait_ms: int = Field(default=DEFAULT_MAX_WAIT_MS, ge=1)
    gc_freeze: bool = Field(
        default=True, description="service processes move start-up objects out of CPython's garbage collections"
    )
    gc_young_threshold: int = Field(
        default=0,
        ge=0,
        description="objects before CPython's youngest GC generation is collected (0: Python's default, 700)",
    )
    gateway_host: str = Field(default="127.0.0.1", description="address the HTTP gateway listens on")
    gateway_port: int = Field(default=8080, ge=0, le=65535, description="preferred gateway port (a free one if taken)")
    gateway_secret: SecretStr | None = Field(
        default=None, description="HMAC secret for gateway sessions (32+ bytes; share it between replicas)"
    )
    analytics_config: Path | None = Field(
        default=None, description="JSON file of SLAs and manual-process baselines per service type"
    )
    contract_tick_s: float = Field(
        default=30.0, gt=0, description="how often the contract engine ticks the clock while deadlines wait"
    )
    instance_id: str = Field(
        default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}",
        description="this process among replicas (the orderer lease names its holder by it)",
    )
    lease_ttl_s: float = Field(default=6.0, gt=0, description="a dead orderer's lease lapses after this long")
    stream_replicas: int = Field(default=1, ge=1, le=5, description="JetStream replicas (3 on a NATS cluster)")
    ack_wait_s: float = Field(
        default=30.0, gt=0, description="how long an event taken by a crashed orderer waits to be redelivered"
    )
    witness_urls: str = Field(
        default="",
        description="where the ledger reaches checkpoint witnesses, as NAME=URL pairs separated by spaces or "
        "commas (NAME: the witness's name in the on-chain policy); overrides the policy's URL for that witness",
    )
    checkpoint_interval_ms: int = Field(
        default=1000,
        ge=10,
        le=3_600_000,
        description="the ledger signs a checkpoint of the newest log size (and asks the witnesses) at most this often",
    )
    witness_timeout_s: float = Field(
        default=5.0, gt=0, le=120, description="how long the ledger waits for one witness's answer"
    )

    @field_validator("nats_sync_interval")
    @classmethod
    def _sync_interval(cls, value: str) -> str:
        return check_sync_interval(value)

    @field_validator("checkpoint_key")
    @classmethod
    def _unset_when_empty(cls, value: SecretStr | None) -> SecretStr | None:
        """Compose passes an unset ``${GOVCHAIN_CHECKPOINT_KEY:-}`` as empty: no key given (an
        intl chain's ledger), not a PEM to parse."""
        return value if value is not None and value.get_secret_value().strip() else None

    @field_validator("witness_urls")
    @classmethod
    def _witness_urls(cls, value: str) -> str:
        parse_witness_urls(value)
        return value

    @property
    def witness_url_overrides(self) -> dict[str, str]:
        """Witness name → base URL, from ``witness_urls``."""
        return parse_witness_urls(self.witness_urls)

    @field_validator("chain")
    @classmethod
    def _chain(cls, value: str | None) -> str | None:
        return None if not value else ChainNames(value).chain

    @property
    def chain_names(self) -> ChainNames:
        """The stream and subject names of the chain this process serves."""
        return ChainNames(self.chain)

    @property
    def batch_limits(self) -> BlockLimits:
        return BlockLimits(
            max_count=self.batch_max_count,
            preferred_bytes=self.batch_preferred_bytes,
            max_wait_s=self.batch_max_wait_ms / 1000,
        )

    def database_url_for(self, service: str) -> str:
        if self.database_url:
            return self.database_url
        db_dir = self.data_dir / "db"
        db_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{db_dir / service}.db"


def parse_witness_urls(text: str) -> dict[str, str]:
    """``NAME=URL`` pairs separated by spaces or commas (a witness name holds neither, nor
    ``=``); raises ValueError on anything else."""
    found: dict[str, str] = {}
    for item in text.replace(",", " ").split():
        name, sep, url = item.partition("=")
        if not sep or not name or not url.startswith(("http://", "https://")):
            raise ValueError(f"a witness URL is NAME=http(s)://…, not {item[:80]!r}")
        if name in found:
            raise ValueError(f"witness {name} has two URLs")
        found[name] = url.rstrip("/")
    return found
