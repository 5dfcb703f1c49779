"""Evaluating the platform: the applicant's rating of a decided service case.

A rating is a citizen's own signed event (its ``source`` is their pseudonym), so nobody can
rate in someone else's name and nothing identifies the person but the pseudonym. The free-text
comment is personal data: it travels as a :class:`~govchain.protocol.sealed.SealedField` under
the rater's own data key (sealed by the registry, as ``owner_details`` are), so erasing the
person makes it unreadable.

Whether a rating *counts* depends on the case (the rater applied for it, it is decided, it
was not rated before), which the ledger does not know: the analytics projection decides it,
deterministically from earlier blocks, and keeps a rating that does not count as *void* with
its reason (``govchain report`` lists them), as the registry keeps inconsistent records.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from govchain.protocol.registry import EVENT_TYPES
from govchain.protocol.sealed import SealedField

RECORD_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
SERVICE_TYPE = r"^[a-z][a-z0-9-]{0,63}$"


@EVENT_TYPES.register("case.rated", 1)
class CaseRated(BaseModel):
    """The applicant rates a decided service case, 1 to 5, with an optional sealed comment; once per case.

    Checked beyond the schema (by the analytics projection, which records a failing rating as
    void with its reason): the case exists (``unknown_case``), the signer is its applicant
    (``not_applicant``), it is decided (``not_decided``), it has no counted rating yet
    (``already_rated``) and a comment is sealed for the rater (``comment_not_rater``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    service_type: str = Field(pattern=SERVICE_TYPE, description="the case's service, e.g. business-license")
    case_id: str = Field(pattern=RECORD_ID, description="the case: an application or request id")
    score: int = Field(ge=1, le=5, description="1 (very poor) to 5 (very good)")
    comment: SealedField | None = Field(default=None, description="free text, sealed under the rater's data key")
