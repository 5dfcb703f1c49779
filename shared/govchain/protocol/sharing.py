"""Data sharing between departments: requests, decisions, grants and reads, all on chain.

Department A asks for a data set in department B's catalog (``dataset.access_requested``),
stating purpose, fields and duration; the named approving departments (B alone, or N of M
for a sensitive set) approve or decline; the ``data-sharing`` contract turns that into a
grant (``dataset.access_granted``, with its expiry date in block time) or a refusal. The
registry checks every read against the grant (fields in scope, not expired) and records it
on chain (``dataset.read``) before answering, naming the people whose data was read, so
each of them sees the read in their access log.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from govchain.protocol.envelope import PRINCIPAL_PATTERN
from govchain.protocol.registry import EVENT_TYPES

RECORD_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
DATE = r"^\d{4}-\d{2}-\d{2}$"
FIELD = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
MAX_DAYS = 3660


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


@EVENT_TYPES.register("dataset.access_requested", 1)
class DatasetAccessRequested(_Model):
    """A department asks for access to a data set in another department's catalog: purpose, fields, duration.

    The requester is the event's ``source``. ``approvers`` are the departments whose approval
    counts (the holder among them) and ``required`` how many must approve; the registry refuses
    a grant whose rule is weaker than the one the holder published for the set."""

    request_id: str = Field(pattern=RECORD_ID)
    dataset_id: str = Field(pattern=RECORD_ID)
    holder: str = Field(pattern=PRINCIPAL_PATTERN, description="the department whose catalog lists the set")
    purpose: str = Field(min_length=3, max_length=300)
    fields: list[str] = Field(min_length=1, max_length=50, description="the fields asked for")
    duration_days: int = Field(ge=1, le=MAX_DAYS, description="how long the grant lasts, from its approval")
    approvers: list[str] = Field(min_length=1, max_length=10)
    required: int = Field(ge=1, le=10)


@EVENT_TYPES.register("dataset.access_approved", 1)
class DatasetAccessApproved(_Model):
    """One of the named approving departments approves a data-sharing request."""

    request_id: str = Field(pattern=RECORD_ID)


@EVENT_TYPES.register("dataset.access_declined", 1)
class DatasetAccessDeclined(_Model):
    """One of the named approving departments declines a data-sharing request, saying why."""

    request_id: str = Field(pattern=RECORD_ID)
    reason: str = Field(min_length=1, max_length=300)


@EVENT_TYPES.register("dataset.access_granted", 1)
class DatasetAccessGranted(_Model):
    """The data-sharing contract grants a request: who may read which fields of which set, why, until when.

    Checked beyond the schema (by the registry, which records a failing grant as void and
    refuses reads under it): the set exists and belongs to ``holder``, the fields are the set's,
    and the approvals meet the rule the holder published for the set."""

    request_id: str = Field(pattern=RECORD_ID, description="the grant is named by its request")
    dataset_id: str = Field(pattern=RECORD_ID)
    holder: str = Field(pattern=PRINCIPAL_PATTERN)
    grantee: str = Field(pattern=PRINCIPAL_PATTERN, description="the requesting department")
    purpose: str = Field(min_length=3, max_length=300)
    fields: list[str] = Field(min_length=1, max_length=50)
    approvals: list[str] = Field(min_length=1, max_length=10, description="the departments that approved")
    expires_on: str = Field(pattern=DATE, description="last day (UTC, block time) reads are allowed")


@EVENT_TYPES.register("dataset.access_refused", 1)
class DatasetAccessRefused(_Model):
    """The data-sharing contract refused a request: declined by an approver, a failed condition, or expired."""

    request_id: str = Field(pattern=RECORD_ID)
    dataset_id: str = Field(pattern=RECORD_ID)
    reason: str = Field(min_length=1, max_length=500)


@EVENT_TYPES.register("dataset.read", 1)
class DatasetRead(_Model):
    """A department read a shared data set under a grant (written by the registry service before it answers).

    ``subjects`` are the people whose personal fields the answer held: each sees the read in
    their access log."""

    request_id: str = Field(pattern=RECORD_ID, description="the grant read under")
    dataset_id: str = Field(pattern=RECORD_ID)
    reader: str = Field(pattern=PRINCIPAL_PATTERN, description="the department (or its official) that read")
    fields: list[str] = Field(min_length=1, max_length=50)
    records: int = Field(ge=0, description="how many records the answer held")
    subjects: list[str] = Field(default_factory=list, max_length=1000)
