"""What the workbench tests share: publishing to the demo platform as its departments do, an
official of the land bureau with the roles the workbench needs, and cases that wait on it."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from govchain.datadir import DataDir
from govchain.protocol.envelope import make_event
from govchain.protocol.keys import SigningKey
from govchain.pseudonym import pseudonym
from govchain.services.cli.demo import DEMO_BUYER_NATIONAL_ID

from ._signin import session_token
from .conftest import Platform

LAND, MARKET = "land-bureau", "market-regulator"
_addresses = (f"100.127.{a}.{b}" for a, b in itertools.product(range(256), range(1, 255)))  # one per request


def headers(token: str | None = None) -> dict[str, str]:
    """A fresh client address per request (the trusted proxy header), so no rate limit interferes."""
    found = {"X-Forwarded-For": next(_addresses)}
    if token is not None:
        found["Authorization"] = f"Bearer {token}"
    return found


@dataclass
class Chain:
    """The demo platform, driven over its HTTP API as a department's system would."""

    platform: Platform
    http: httpx.Client

    @property
    def data(self) -> DataDir:
        return DataDir(self.platform.data)

    def key(self, name: str) -> SigningKey:
        return SigningKey.load(self.data.key_file(name))

    def publish(self, key: SigningKey, source: str, type: str, data: dict[str, Any]) -> dict[str, Any]:
        """Publish one signed event and return its receipt; it must be committed."""
        event = make_event(key, source=source, type=type, data=data)
        answer = self.http.post(
            "/api/v1/events",
            content=event.to_bytes(),
            headers={**headers(), "Content-Type": "application/json"},
        )
        assert answer.status_code == 201, answer.text
        receipt = answer.json()
        assert receipt["status"] == "committed", receipt
        return {**receipt, "event_id": event.id}

    def sign_in(self, key: SigningKey, principal: str) -> str:
        return session_token(self.http, principal, key, headers)

    def case(self, contract_id: str, case_key: str, token: str) -> dict[str, Any]:
        answer = self.http.get(f"/api/v1/applications/{contract_id}/{case_key}", headers=headers(token))
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def settled(
        self, contract_id: str, case_key: str, token: str, states: set[str], timeout: float = 30
    ) -> dict[str, Any]:
        """The case once it reaches one of ``states`` (the contract engine follows the chain)."""
        deadline = time.monotonic() + timeout
        while True:
            case = self.case(contract_id, case_key, token)
            if case["state"] in states or time.monotonic() > deadline:
                return case
            time.sleep(0.2)

    def queue(self, token: str) -> dict[str, Any]:
        answer = self.http.get("/api/v1/workbench/queue", headers=headers(token))
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    # -- the workbench's fixtures

    def register_official(self, official_id: str, roles: list[str], pem: Path) -> SigningKey:
        """The land bureau (its admin key) registers an official and hands them a PEM file."""
        key = SigningKey.generate()
        key.save(pem)
        self.publish(
            self.key(LAND),
            LAND,
            "official.registered",
            {
                "official_id": official_id,
                "department_id": LAND,
                "name": f"Officer {official_id}",
                "public_key": key.public.hex,
                "roles": roles,
            },
        )
        return key

    def land_request(self, request_id: str, parcel_id: str, *, required: int = 2) -> dict[str, Any]:
        """A parcel of the demo citizen and a request to transfer it to the demo buyer, awaiting
        the land bureau and the market regulator (``required`` of the two)."""
        seller = self.platform.summary["citizen_id"]
        buyer = pseudonym(DEMO_BUYER_NATIONAL_ID, self.data.pseudonym_key(), suite=self.data.crypto_suite())
        land = self.key(LAND)
        self.publish(
            land,
            LAND,
            "land.parcel_registered",
            {
                "parcel_id": parcel_id,
                "location": f"Lot {parcel_id}, Riverside District",
                "area_m2": "288.00",
                "land_use": "residential",
                "owner": seller,
            },
        )
        request = {
            "request_id": request_id,
            "parcel_id": parcel_id,
            "from_owner": seller,
            "to_owner": buyer,
            "consideration": "960000.00",
            "approvers": [LAND, MARKET],
            "required": required,
        }
        receipt = self.publish(land, LAND, "land.transfer_requested", request)
        return {**request, "receipt": receipt}

    def sharing_request(self, request_id: str, dataset_id: str) -> dict[str, Any]:
        """The land bureau lists a data set; the market regulator asks for it (the land bureau decides)."""
        self.publish(
            self.key(LAND),
            LAND,
            "dataset.published",
            {
                "dataset_id": dataset_id,
                "title": f"Parcels {dataset_id}",
                "description": "Registered parcels with their owners' sealed details",
                "fields": ["parcel_id", "location", "owner_details"],
                "access": "departments",
                "readers": [MARKET],
                "source": "parcels",
            },
        )
        request = {
            "request_id": request_id,
            "dataset_id": dataset_id,
            "holder": LAND,
            "purpose": "check a licence applicant's premises",
            "fields": ["parcel_id", "location"],
            "duration_days": 30,
            "approvers": [LAND],
            "required": 1,
        }
        receipt = self.publish(self.key(MARKET), MARKET, "dataset.access_requested", request)
        return {**request, "receipt": receipt}

    def waiting(self, token: str, case_key: str, *, present: bool, timeout: float = 30) -> dict[str, Any]:
        """The queue once ``case_key`` is in it (or gone from it)."""
        deadline = time.monotonic() + timeout
        while True:
            answer = self.queue(token)
            if any(c["case_key"] == case_key for c in answer["cases"]) == present or time.monotonic() > deadline:
                return answer
            time.sleep(0.2)
