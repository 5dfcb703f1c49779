"""The registry's event types: businesses and licenses, land, data catalog, personal data.

Personal fields travel as :class:`~govchain.protocol.sealed.SealedField` ciphertexts under the
data key of the person they concern, so no personal data is in clear on chain. Whether an
event is *authorized* is the ledger's call (on-chain policy); whether it is *consistent*
with the registry (say, a transfer from the parcel's current owner) is decided by the
registry projection, deterministically, and an inconsistent event is recorded as void.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from govchain.protocol.envelope import HEX64_PATTERN, PRINCIPAL_PATTERN
from govchain.protocol.registry import EVENT_TYPES
from govchain.protocol.sealed import SealedField

RECORD_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
DECIMAL = r"^\d{1,15}(\.\d{1,4})?$"
DATE = r"^\d{4}-\d{2}-\d{2}$"


class Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


@EVENT_TYPES.register("business.registered", 1)
class BusinessRegistered(Record):
    """A business enters the register; its owner's personal details are sealed."""

    business_id: str = Field(pattern=RECORD_ID)
    name: str = Field(min_length=1, max_length=200)
    registration_no: str = Field(min_length=1, max_length=64)
    address: str = Field(min_length=1, max_length=300)
    activity: str = Field(min_length=1, max_length=200)
    owner: str = Field(pattern=PRINCIPAL_PATTERN, description="the owner's principal (a citizen's pseudonym)")
    owner_details: SealedField | None = None


@EVENT_TYPES.register("license.issued", 1)
class LicenseIssued(Record):
    """A department licenses a registered business for an activity, for a period."""

    license_id: str = Field(pattern=RECORD_ID)
    business_id: str = Field(pattern=RECORD_ID)
    kind: str = Field(min_length=1, max_length=100)
    valid_from: str = Field(pattern=DATE)
    valid_until: str = Field(pattern=DATE)
    application_id: str | None = Field(default=None, pattern=RECORD_ID, description="the application it decides")


@EVENT_TYPES.register("license.revoked", 1)
class LicenseRevoked(Record):
    """A licence withdrawn by its issuer; a contract's licence, by the business's registering department."""

    license_id: str = Field(pattern=RECORD_ID)
    reason: str = Field(min_length=1, max_length=300)


@EVENT_TYPES.register("land.parcel_registered", 1)
class ParcelRegistered(Record):
    """A land parcel enters the register with its first owner."""

    parcel_id: str = Field(pattern=RECORD_ID)
    location: str = Field(min_length=1, max_length=300)
    area_m2: str = Field(pattern=DECIMAL, description="decimal string: no binary floats in a land register")
    land_use: str = Field(min_length=1, max_length=100)
    owner: str = Field(pattern=PRINCIPAL_PATTERN)
    owner_details: SealedField | None = None


@EVENT_TYPES.register("land.transferred", 1)
class LandTransferred(Record):
    """Ownership of a parcel passes from its current owner to another."""

    transfer_id: str = Field(pattern=RECORD_ID)
    parcel_id: str = Field(pattern=RECORD_ID)
    from_owner: str = Field(pattern=PRINCIPAL_PATTERN)
    to_owner: str = Field(pattern=PRINCIPAL_PATTERN)
    consideration: str = Field(pattern=DECIMAL, description="price in CNY, decimal string")
    contract_sha256: str | None = Field(default=None, pattern=HEX64_PATTERN)
    to_owner_details: SealedField | None = None
    request_id: str | None = Field(default=None, pattern=RECORD_ID, description="the approved request it records")


@EVENT_TYPES.register("dataset.published", 1)
class DatasetPublished(Record):
    """A department lists a data set it shares, and who may read it."""

    dataset_id: str = Field(pattern=RECORD_ID)
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(max_length=2000)
    fields: list[str] = Field(max_length=200)
    access: Literal["public", "departments", "auditors"]
    readers: list[str] = Field(
        default_factory=list, max_length=100, description="departments, when access is 'departments'"
    )
    approvers: list[str] = Field(
        default_factory=list,
        max_length=10,
        description="who must approve a data-sharing grant (with required); empty: the publishing department alone",
    )
    required: int = Field(default=1, ge=1, le=10, description="how many of approvers must approve a grant")
    source: Literal["businesses", "parcels", "licenses"] | None = Field(
        default=None,
        description="the register whose records of this department the set holds, read under a grant; "
        "None: listed only",
    )


@EVENT_TYPES.register("personal_data.accessed", 1)
class PersonalDataAccessed(Record):
    """An official read someone's personal data: who, why, what (written by the registry service)."""

    subject: str = Field(pattern=PRINCIPAL_PATTERN)
    reader: str = Field(pattern=PRINCIPAL_PATTERN)
    purpose: str = Field(min_length=3, max_length=300)
    record: str = Field(max_length=200)
    fields: list[str] = Field(min_length=1, max_length=50)


@EVENT_TYPES.register("personal_data.erased", 1)
class PersonalDataErased(Record):
    """A subject's data key is destroyed: all their sealed fields become unreadable (crypto-shredding)."""

    subject: str = Field(pattern=PRINCIPAL_PATTERN)
    reason: str = Field(min_length=1, max_length=300)


@EVENT_TYPES.register("license.applied", 1)
class LicenseApplied(Record):
    """A citizen applies for a business licence, naming the registered documents it rests on."""

    application_id: str = Field(pattern=RECORD_ID)
    applicant: str = Field(pattern=PRINCIPAL_PATTERN)
    business_id: str = Field(pattern=RECORD_ID)
    kind: str = Field(min_length=1, max_length=100)
    documents: list[str] = Field(min_length=1, max_length=20, description="SHA-256 of each supporting document")


@EVENT_TYPES.register("license.application_rejected", 1)
class LicenseApplicationRejected(Record):
    """The licence contract refused an application: which condition failed."""

    application_id: str = Field(pattern=RECORD_ID)
    failed_condition: str = Field(max_length=500)


@EVENT_TYPES.register("land.transfer_requested", 1)
class LandTransferRequested(Record):
    """A transfer awaiting approval by ``required`` of the named departments before a deadline."""

    request_id: str = Field(pattern=RECORD_ID)
    parcel_id: str = Field(pattern=RECORD_ID)
    from_owner: str = Field(pattern=PRINCIPAL_PATTERN)
    to_owner: str = Field(pattern=PRINCIPAL_PATTERN)
    consideration: str = Field(pattern=DECIMAL)
    approvers: list[str] = Field(min_length=1, max_length=10)
    required: int = Field(ge=1, le=10)


@EVENT_TYPES.register("land.transfer_approved", 1)
class LandTransferApproved(Record):
    request_id: str = Field(pattern=RECORD_ID)


@EVENT_TYPES.register("land.transfer_declined", 1)
class LandTransferDeclined(Record):
    """One of the departments a land transfer names as approvers refuses it, saying why (the
    land-transfer contract, from version 3, then refuses the request at once)."""

    request_id: str = Field(pattern=RECORD_ID)
    reason: str = Field(min_length=1, max_length=300)


@EVENT_TYPES.register("land.transfer_expired", 1)
class LandTransferExpired(Record):
    request_id: str = Field(pattern=RECORD_ID)
    approvals: list[str]


@EVENT_TYPES.register("land.transfer_refused", 1)
class LandTransferRefused(Record):
    """The land-transfer contract refused a request: the condition that failed, or the error."""

    request_id: str = Field(pattern=RECORD_ID, description="the request (the contract's case key)")
    parcel_id: str = Field(pattern=RECORD_ID)
    reason: str = Field(min_length=1, max_length=500)
