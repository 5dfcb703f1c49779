"""Load for the crash harness: a department-like publisher that remembers every PubAck.

The publisher runs as its own process (``python -m tests.crash.load``), so killing the
platform never kills it: like a department's system it keeps publishing, retries a message
until JetStream acknowledges it (the same bytes, so a re-send is de-duplicated), and follows
the platform to a new NATS address when the harness names one. For every PubAck it appends
one JSON line to the record file and fsyncs it before publishing on: the record of what
was acknowledged is itself durable, and it is what the checks hold the chain to.

The mix is business traffic the projections consume: documents and businesses (alone and
in batch envelopes), land parcels in batches, licence applications that the business-licence
contract decides (so the contract engine's own results travel through the crashes too),
re-sends of messages already acknowledged, and a few events the ledger must refuse (so the
refusals on stream REJECTED, and the analytics tally of them, go through the crashes too).
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client
from nats.js.api import PubAck

from govchain.client import GovChainClient
from govchain.datadir import DataDir
from govchain.protocol import events as ev
from govchain.protocol.batch import EventBatch, sign_batch
from govchain.protocol.envelope import Envelope, make_event
from govchain.protocol.keys import SigningKey
from govchain.services.contract import BUILTIN_CONTRACTS

REPO = Path(__file__).resolve().parents[2]
DEPARTMENTS = ("market-regulator", "land-bureau")
CITIZENS = 4
PUBLISH_TIMEOUT_S = 2.0


@dataclass
class Cast:
    """Who the load publishes as: departments admitted by root, citizens they enrolled."""

    departments: dict[str, SigningKey]
    citizens: dict[str, SigningKey]

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for name, key in {**self.departments, **self.citizens}.items():
            key.save(folder / f"{name}.pem")
        (folder / "cast.json").write_text(
            json.dumps({"departments": list(self.departments), "citizens": list(self.citizens)})
        )

    @classmethod
    def load(cls, folder: Path) -> Cast:
        names = json.loads((folder / "cast.json").read_text())
        return cls(
            {d: SigningKey.load(folder / f"{d}.pem") for d in names["departments"]},
            {c: SigningKey.load(folder / f"{c}.pem") for c in names["citizens"]},
        )


async def prepare_chain(client: GovChainClient, data: DataDir, rng: random.Random) -> Cast:
    """Admit the departments, enroll citizens and deploy the business-licence contract, each
    waited for until committed: the load's events need all of them on chain."""
    root, suite = data.signing_key("root"), data.crypto_suite()  # the chain's profile: intl or gm
    cast = Cast(
        {d: SigningKey.generate(suite) for d in DEPARTMENTS},
        {f"c-{rng.getrandbits(128):032x}": SigningKey.generate(suite) for _ in range(CITIZENS)},
    )
    setup = [
        make_event(
            root,
            source=ev.ROOT,
            type="department.registered",
            data={"department_id": d, "name": d.title(), "public_key": k.public.hex},
        )
        for d, k in cast.departments.items()
    ]
    market = cast.departments["market-regulator"]
    setup += [
        make_event(
            market,
            source="market-regulator",
            type="citizen.enrolled",
            data={"citizen_id": c, "public_key": k.public.hex},
        )
        for c, k in cast.citizens.items()
    ]
    setup.append(
        make_event(
            root,
            source=ev.ROOT,
            type="contract.deployed",
            data={"definition": json.loads(BUILTIN_CONTRACTS["business-license"].read_text())},
        )
    )
    for envelope in setup:
        receipt = await client.submit(envelope, timeout=60)
        assert receipt["status"] == "committed", receipt
    return cast


@dataclass
class Message:
    """One message to publish until acknowledged: a single event or a batch envelope."""

    kind: str
    send: Callable[[GovChainClient], Any]
    msg_id: str
    ids: list[str]
    resend: bool = False
    expect: str = "commit"
    """What the ledger must do with it: ``commit``, or ``reject`` (with a reason, on REJECTED)."""


def single(envelope: Envelope, expect: str = "commit") -> Message:
    return Message("event", lambda c: c.publish(envelope), envelope.id, [envelope.id], expect=expect)


def batch(signed: EventBatch) -> Message:
    return Message("batch", lambda c: c.publish_batch(signed), signed.msg_id, [str(e["id"]) for e in signed.events])


@dataclass
class Mix:
    """Chooses the next message; remembers what it published, so later events can refer to it."""

    cast: Cast
    rng: random.Random
    tag: str
    n: int = 0
    documents: list[str] = field(default_factory=list)
    businesses: dict[str, str] = field(default_factory=dict)
    """business id → owning citizen"""
    acked: list[Message] = field(default_factory=list)

    def event(self, key: SigningKey, source: str, type: str, data: dict[str, Any]) -> Envelope:
        return make_event(
            key, source=source, type=type, data=data, event_id=uuid.UUID(int=self.rng.getrandbits(128)).hex
        )

    def _id(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}-{self.tag}-{self.n}"

    def document(self, dept: str) -> Envelope:
        sha = f"{self.rng.getrandbits(256):064x}"
        self.documents.append(sha)
        return self.event(
            self.cast.departments[dept],
            dept,
            "document.registered",
            {"document_id": self._id("D"), "sha256": sha, "title": f"Record {self.n}"},
        )

    def business(self) -> Envelope:
        owner = self.rng.choice(list(self.cast.citizens))
        business_id = self._id("B")
        self.businesses[business_id] = owner
        return self.event(
            self.cast.departments["market-regulator"],
            "market-regulator",
            "business.registered",
            {
                "business_id": business_id,
                "name": f"Shop {self.n}",
                "registration_no": f"9131{self.n:014d}",
                "address": f"{self.n} Harbour Road",
                "activity": "catering",
                "owner": owner,
            },
        )

    def parcel(self) -> Envelope:
        return self.event(
            self.cast.departments["land-bureau"],
            "land-bureau",
            "land.parcel_registered",
            {
                "parcel_id": self._id("P"),
                "location": f"Lot {self.n}",
                "area_m2": f"{self.rng.randint(50, 900)}.50",
                "land_use": "residential",
                "owner": self.rng.choice(list(self.cast.citizens)),
            },
        )

    def application(self) -> Envelope:
        """A licence application; for an unknown business or documents, the contract rejects it."""
        if self.businesses and self.documents and self.rng.random() < 0.8:
            business_id = self.rng.choice(list(self.businesses))
            applicant = self.businesses[business_id]
            documents = self.rng.sample(self.documents, min(2, len(self.documents)))
        else:
            business_id, applicant = self._id("B-unknown"), self.rng.choice(list(self.cast.citizens))
            documents = [f"{self.rng.getrandbits(256):064x}"]
        return self.event(
            self.cast.citizens[applicant],
            applicant,
            "license.applied",
            {
                "application_id": self._id("APP"),
                "applicant": applicant,
                "business_id": business_id,
                "kind": "food service",
                "documents": documents,
            },
        )

    def refused(self) -> Envelope:
        """An event the ledger must refuse: a signer unknown to the chain, or a citizen
        registering a business (only registrars may)."""
        if self.rng.random() < 0.5:
            dept = self.rng.choice(DEPARTMENTS)
            return self.event(
                SigningKey.generate(self.cast.departments[dept].suite),
                dept,
                "document.registered",
                {"document_id": self._id("D-forged"), "sha256": "0" * 64, "title": "Unknown signer"},
            )
        citizen = self.rng.choice(list(self.cast.citizens))
        return self.event(
            self.cast.citizens[citizen],
            citizen,
            "business.registered",
            {
                "business_id": self._id("B-self"),
                "name": "Self-registered",
                "registration_no": "0",
                "address": "Nowhere",
                "activity": "none",
                "owner": citizen,
            },
        )

    def next(self) -> Message:
        roll = self.rng.random()
        if roll < 0.05 and self.acked:
            return replace(self.rng.choice(self.acked[-50:]), resend=True)  # the same bytes again
        if roll < 0.08:
            return single(self.refused(), expect="reject")
        if roll < 0.35:
            return single(self.document(self.rng.choice(DEPARTMENTS)))
        if roll < 0.50:
            return single(self.business())
        if roll < 0.65:
            return single(self.application())
        if roll < 0.85:
            market = self.cast.departments["market-regulator"]
            events = [
                self.document("market-regulator") if self.rng.random() < 0.6 else self.business()
                for _ in range(self.rng.randint(2, 40))
            ]
            return batch(sign_batch(market, events))
        land = self.cast.departments["land-bureau"]
        events = [
            self.parcel() if self.rng.random() < 0.5 else self.document("land-bureau")
            for _ in range(self.rng.randint(2, 25))
        ]
        return batch(sign_batch(land, events))


class Publisher:
    """Publishes the mix until stopped; each PubAck is recorded (fsynced) before the next message."""

    def __init__(self, mix: Mix, url_file: Path, record: Path, pause_s: float) -> None:
        self.mix, self.url_file, self.pause_s = mix, url_file, pause_s
        self.record = open(record, "a", encoding="utf-8")  # noqa: SIM115  (closed in run)
        self.stop = asyncio.Event()
        self.nc: Client | None = None
        self.url = ""
        self.acks = self.failures = self.events = 0

    async def _connected(self) -> GovChainClient | None:
        """A client on the URL the harness names now (it may change after a restart)."""
        url = self.url_file.read_text().strip()
        if self.nc is not None and (url != self.url or self.nc.is_closed):
            await self._close()
        if self.nc is None:
            try:
                # Bounded: a first connect to a server that is gone may otherwise retry forever.
                self.nc = await asyncio.wait_for(
                    nats.connect(
                        url.split(","),
                        connect_timeout=2,
                        max_reconnect_attempts=-1,
                        reconnect_time_wait=0.2,
                        name="crash-load",
                    ),
                    5,
                )
            except Exception:  # noqa: BLE001  (down for now: try again)
                return None
            self.url = url
        return GovChainClient(self.nc)

    async def _close(self) -> None:
        nc, self.nc = self.nc, None
        if nc is not None:
            try:
                await asyncio.wait_for(nc.close(), 5)
            except Exception:  # noqa: BLE001  (a dead server: nothing left to close)
                pass

    def _write(self, message: Message, ack: PubAck) -> None:
        line = {
            "t": time.time(),
            "kind": message.kind,
            "msg_id": message.msg_id,
            "ids": message.ids,
            "resend": message.resend,
            "expect": message.expect,
            "seq": ack.seq,
            "duplicate": bool(ack.duplicate),
        }
        self.record.write(json.dumps(line) + "\n")
        self.record.flush()
        os.fsync(self.record.fileno())

    async def run(self) -> None:
        try:
            while not self.stop.is_set():
                message = self.mix.next()
                while not self.stop.is_set():
                    client = await self._connected()
                    try:
                        if client is None:
                            raise ConnectionError("no NATS")
                        ack = await asyncio.wait_for(message.send(client), PUBLISH_TIMEOUT_S)
                    except Exception:  # noqa: BLE001  (down, electing, timed out: the same bytes again)
                        self.failures += 1
                        await asyncio.sleep(0.2)
                        continue
                    self._write(message, ack)
                    self.acks += 1
                    self.events += len(message.ids)
                    if not message.resend:
                        self.mix.acked.append(message)
                    break
                if self.pause_s:
                    await asyncio.sleep(self.mix.rng.expovariate(1 / self.pause_s))
        finally:
            await self._close()
            self.record.close()


async def _main(args: argparse.Namespace) -> None:
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # the harness asks for stacks if we hang
    mix = Mix(Cast.load(Path(args.cast)), random.Random(args.seed), tag=args.tag)
    publisher = Publisher(mix, Path(args.url_file), Path(args.record), args.pause_ms / 1000)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, publisher.stop.set)
    await publisher.run()
    print(json.dumps({"acks": publisher.acks, "events": publisher.events, "failures": publisher.failures}), flush=True)


class LoadProcess:
    """The publisher as a child process of the test: started per cycle, stopped before checks."""

    def __init__(
        self, cast_dir: Path, url_file: Path, record: Path, *, seed: int, tag: str, pause_ms: float, log: Path
    ) -> None:
        self.log = log
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.crash.load",
                "--cast",
                str(cast_dir),
                "--url-file",
                str(url_file),
                "--record",
                str(record),
                "--seed",
                str(seed),
                "--tag",
                tag,
                "--pause-ms",
                str(pause_ms),
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=open(log, "ab"),
            text=True,  # noqa: SIM115
        )

    def stop(self, timeout: float = 30) -> dict[str, int]:
        """SIGTERM, then the publisher's own count of acks, events and failed attempts. A
        publisher that does not stop is made to dump its stacks into its log, then killed
        (its record is fsynced line by line, so nothing it was told is lost)."""
        self.process.send_signal(signal.SIGTERM)
        try:
            out, _ = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.send_signal(signal.SIGUSR1)
            time.sleep(1)
            self.process.kill()
            self.process.communicate()
            raise AssertionError(
                f"load publisher did not stop within {timeout}s:\n{self.log.read_text()[-6000:]}"
            ) from None
        if self.process.returncode != 0:
            raise AssertionError(
                f"load publisher exited with {self.process.returncode}: {self.log.read_text()[-2000:]}"
            )
        return dict(json.loads(out.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cast", required=True)
    parser.add_argument("--url-file", required=True)
    parser.add_argument("--record", required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--tag", required=True)
    parser.add_argument("--pause-ms", type=float, default=20)
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
