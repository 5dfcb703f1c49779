"""A leadership lease in a NATS key-value bucket, so one orderer orders and a standby waits.

The lease is a key whose entries expire ``ttl_s`` after they were written (the bucket's TTL):
the holder renews it well within that time, with a compare-and-set on its revision; if the
holder dies, the entry expires and a standby creates it. The lease keeps orderers from
working against each other; it is not what keeps the chain from forking: each block is
appended with an expected sequence, so even two orderers that both believe they lead
cannot both append at one height.
"""

from __future__ import annotations

from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig
from nats.js.errors import BadRequestError, BucketNotFoundError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from govchain.bus.errors import NATS_ERRORS, is_transient
from govchain.bus.subjects import DEFAULT
from govchain.logs import get_logger

log = get_logger("govchain.lease")

BUCKET = DEFAULT.lease_bucket
"""The default chain's bucket; each chain's is its :attr:`ChainNames.lease_bucket`."""
WRONG_LAST_SEQUENCE = 10071
"""JetStream's error code for a write whose expected revision is not the key's."""


class Lease:
    def __init__(
        self,
        js: JetStreamContext,
        *,
        name: str,
        holder: str,
        ttl_s: float,
        bucket: str,
        replicas: int = 1,
    ) -> None:
        self.js = js
        self.bucket = bucket
        self.name = name
        self.holder = holder
        self.ttl_s = ttl_s
        self.replicas = replicas
        self.revision: int | None = None
        self._kv: KeyValue | None = None

    @property
    def held(self) -> bool:
        return self.revision is not None

    async def _bucket(self) -> KeyValue:
        if self._kv is None:
            try:
                self._kv = await self.js.key_value(self.bucket)
            except BucketNotFoundError:
                self._kv = await self.js.create_key_value(
                    config=KeyValueConfig(bucket=self.bucket, ttl=self.ttl_s, history=1, replicas=self.replicas)
                )
        return self._kv

    async def try_acquire(self) -> bool:
        """Take the lease if nobody holds it (or we held it before a restart)."""
        kv = await self._bucket()
        try:
            self.revision = await kv.create(self.name, self.holder.encode())
        except KeyWrongLastSequenceError:
            try:
                entry = await kv.get(self.name)
            except KeyNotFoundError:
                return False
            if entry.value != self.holder.encode():
                return False
            self.revision = entry.revision  # our own lease, from before a restart: carry on
            return await self.renew()
        log.info("lease acquired", lease=self.name, holder=self.holder)
        return True

    async def renew(self) -> bool:
        """Extend the lease; False (and the lease dropped) if someone else took it meanwhile."""
        if self.revision is None:
            return False
        kv = await self._bucket()
        try:
            self.revision = await kv.update(self.name, self.holder.encode(), last=self.revision)
        except (KeyWrongLastSequenceError, KeyNotFoundError):
            log.warning("lease lost", lease=self.name, holder=self.holder)
            self.revision = None
            return False
        except (NatsError, TimeoutError) as exc:
            # Unsure whether we still hold it: step down (fencing keeps the chain safe meanwhile).
            log.warning("lease not renewed; stepping down", lease=self.name, error=type(exc).__name__)
            self.revision = None
            return False
        return True

    async def release(self) -> None:
        """Give the lease up at a clean stop, so a standby need not wait for it to expire."""
        if self.revision is None:
            return
        kv = await self._bucket()
        try:
            await kv.delete(self.name, last=self.revision)
        except (KeyWrongLastSequenceError, KeyNotFoundError):
            pass
        except BadRequestError as exc:  # nats-py reports a lapsed lease's wrong revision this way
            if exc.err_code != WRONG_LAST_SEQUENCE:
                raise
        except NATS_ERRORS as exc:  # a stop must not fail on a busy or unreachable server
            if not is_transient(exc):
                raise
            log.warning("lease not released; it lapses on its own", lease=self.name, ttl_s=self.ttl_s, error=repr(exc))
        self.revision = None
