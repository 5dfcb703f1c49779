"""The event type reference (docs/event-types.md), generated from the registry itself.

A hand-kept list of event types drifts from the code; this one cannot: every type, version,
payload schema and default grant is read from :data:`EVENT_TYPES`, :data:`DEFAULT_POLICY` and
the validation rules, and a test compares the committed file with this output. The words for
the structural rules and the example payloads are kept here, and checked: a rule without words
or an example its model refuses stops the generator.

    python -m govchain.protocol.reference > docs/event-types.md
    python -m govchain.protocol.reference --json     # the JSON Schemas, keyed "type/vN"
"""

from __future__ import annotations

import base64
import hashlib
import inspect
import json
import re
import sys
import typing
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import to_jsonable_python

from govchain.protocol import catalog  # noqa: F401  (registers every event type)
from govchain.protocol.keys import key_id_of
from govchain.protocol.policy import DEFAULT_POLICY, Grant, Policy
from govchain.protocol.registry import EVENT_TYPES, EventType
from govchain.protocol.validation import _RULES

COMMAND = "python -m govchain.protocol.reference > docs/event-types.md"

RULES: dict[str, str] = {
    "chain.genesis": "Nobody: it is valid only as the one event of block 0, signed by a root key it names.",
    "department.registered": "The root authority only (source `root`). The department id and the key must be new.",
    "service.registered": "The root authority only (source `root`). The service id and the key must be new.",
    "official.registered": "The department itself (source = `department_id`), signed by an admin of it: the "
    "department's own key, or one of its officials holding role `admin`. The official id and the key must be new.",
    "citizen.enrolled": "A department (the source), signed by its admin or by one of its officials holding role "
    "`enrollment`. The pseudonym, and the key if one is given, must be new.",
    "key.added": "The root authority, the owner itself, or (for an official's key) an admin of the official's "
    "department. The owner must exist and the key must be new.",
    "key.rotated": "As `key.added`. The old key must be the owner's and still usable; it keeps signing for "
    "`grace_blocks` more blocks (default 10).",
    "key.revoked": "As `key.added`, for the key's owner. A key is revoked once; it signs nothing after this event.",
    "role.granted": "The root authority; or, for an official, an admin of the official's department.",
    "role.revoked": "The root authority; or, for an official, an admin of the official's department.",
    "policy.rule_set": "The root authority only (source `root`).",
    "witness.policy_set": "The root authority only (source `root`): which witnesses count is a trust anchor, "
    "like the policy.",
    "contract.deployed": "Whom the policy grants; and a contract's versions only increase: a version at or below "
    "the latest deployed one is refused as `state_conflict`.",
}
"""The structural rules of :mod:`govchain.protocol.validation`, in words (one per rule there)."""
ALSO_POLICY = {"contract.deployed"}
"""Types whose structural rule also asks the policy."""

RULED = {t.name for t in EVENT_TYPES if t.model in _RULES}
"""Types judged by a structural rule rather than (or besides) the policy."""

_KINDS = {
    "root": "the root authority",
    "service": "a service",
    "department": "a department (its own keys)",
    "official": "an official",
    "citizen": "a citizen",
}

_PK1, _PK2 = (
    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
    "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
)  # RFC 8032 test keys
_KEY_ID = key_id_of(bytes.fromhex(_PK1))
_DOC = hashlib.sha256(b"tax clearance certificate T-2026-0001").hexdigest()
_C1, _C2 = "c-9f86d081884c7d659a2feaa0c55ad015", "c-60303ae22b998861bce3b28f33eec1be"
_WITNESS, _WITNESS_KEY = "audit.example.gov/witness", b"\x04" + bytes.fromhex(_PK2)
_WITNESS_VKEY = "+".join(
    [
        _WITNESS,
        hashlib.sha256(_WITNESS.encode() + b"\n" + _WITNESS_KEY).digest()[:4].hex(),
        base64.b64encode(_WITNESS_KEY).decode(),
    ]
)  # c2sp.org/tlog-cosignature vkey
_SALE = {"parcel_id": "P-0001", "from_owner": _C1, "to_owner": _C2, "consideration": "3500000.00"}
EXAMPLES: dict[str, dict[str, Any]] = {
    "chain.genesis": {
        "chain_id": "gov-demo",
        "root_keys": [_PK1],
        "orderer_keys": [_PK2],
        "services": {},
        "policy": {
            "publish": {"document.registered": [{"kind": "department"}, {"role": "registrar"}]},
            "event_time": {"max_ahead_s": 300, "max_behind_s": 300, "derived_by": ["contract-engine"]},
        },
    },
    "department.registered": {"department_id": "tax", "name": "Tax Bureau", "public_key": _PK1},
    "service.registered": {"service_id": "archive", "name": "City Archive", "public_key": _PK1},
    "official.registered": {
        "official_id": "tax-alice",
        "department_id": "tax",
        "name": "Alice Wang",
        "public_key": _PK2,
        "roles": ["registrar"],
    },
    "citizen.enrolled": {"citizen_id": _C1, "public_key": _PK2},
    "key.added": {"owner": "tax", "public_key": _PK2},
    "key.rotated": {"owner": "tax", "old_key_id": _KEY_ID, "public_key": _PK2, "grace_blocks": 10},
    "key.revoked": {"key_id": _KEY_ID, "reason": "laptop lost"},
    "role.granted": {"principal": "tax-alice", "role": "issuer"},
    "role.revoked": {"principal": "tax-alice", "role": "issuer"},
    "policy.rule_set": {
        "event_type": "dataset.published",
        "grants": [{"kind": "department"}, {"role": "data-steward", "departments": ["stats"]}],
    },
    "document.registered": {
        "document_id": "T-2026-0001",
        "sha256": _DOC,
        "title": "Tax clearance certificate",
        "kind": "certificate",
    },
    "credential.revoked": {
        "credential_id": "urn:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427",
        "reason": "issued in error",
    },
    "business.registered": {
        "business_id": "B-0001",
        "name": "Lanzhou Noodle House",
        "registration_no": "91110000MA01ABCD1X",
        "address": "1 Chang'an Avenue, Beijing",
        "activity": "restaurant",
        "owner": _C1,
    },
    "license.issued": {
        "license_id": "L-0001",
        "business_id": "B-0001",
        "kind": "food-service",
        "valid_from": "2026-01-01",
        "valid_until": "2028-12-31",
        "application_id": "APP-0001",
    },
    "license.revoked": {"license_id": "L-0001", "reason": "hygiene inspection failed"},
    "land.parcel_registered": {
        "parcel_id": "P-0001",
        "location": "Lot 12, Haidian District",
        "area_m2": "1250.50",
        "land_use": "residential",
        "owner": _C1,
    },
    "land.transferred": {"transfer_id": "T-0001", **_SALE, "contract_sha256": _DOC, "request_id": "R-0001"},
    "dataset.published": {
        "dataset_id": "DS-arrears",
        "title": "Tax arrears by district",
        "description": "Monthly totals; no personal data.",
        "fields": ["district", "month", "total"],
        "access": "departments",
        "readers": ["stats"],
    },
    "personal_data.accessed": {
        "subject": _C1,
        "reader": "tax-alice",
        "purpose": "licence renewal",
        "record": "business/B-0001",
        "fields": ["owner_details"],
    },
    "personal_data.erased": {"subject": _C1, "reason": "right to erasure"},
    "license.applied": {
        "application_id": "APP-0001",
        "applicant": _C1,
        "business_id": "B-0001",
        "kind": "food-service",
        "documents": [_DOC],
    },
    "license.application_rejected": {"application_id": "APP-0002", "failed_condition": "documents_registered"},
    "land.transfer_requested": {
        "request_id": "R-0001",
        **_SALE,
        "approvers": ["land", "tax", "planning"],
        "required": 2,
    },
    "land.transfer_approved": {"request_id": "R-0001"},
    "land.transfer_declined": {"request_id": "R-0001", "reason": "the boundary survey is out of date"},
    "land.transfer_expired": {"request_id": "R-0001", "approvals": ["land"]},
    "land.transfer_refused": {
        "request_id": "R-0001",
        "parcel_id": "P-0001",
        "reason": "from_owner is not the parcel's owner",
    },
    "clock.tick": {"note": "tick"},
    "case.rated": {"service_type": "business-license", "case_id": "APP-0001", "score": 4},
    "dataset.access_requested": {
        "request_id": "DS-REQ-1",
        "dataset_id": "businesses",
        "holder": "market-regulator",
        "purpose": "tax registration checks",
        "fields": ["name", "address"],
        "duration_days": 90,
        "approvers": ["market-regulator"],
        "required": 1,
    },
    "dataset.access_approved": {"request_id": "DS-REQ-1"},
    "dataset.access_declined": {"request_id": "DS-REQ-1", "reason": "purpose too broad"},
    "dataset.access_granted": {
        "request_id": "DS-REQ-1",
        "dataset_id": "businesses",
        "holder": "market-regulator",
        "grantee": "tax",
        "purpose": "tax registration checks",
        "fields": ["name", "address"],
        "approvals": ["market-regulator"],
        "expires_on": "2027-03-01",
    },
    "dataset.access_refused": {
        "request_id": "DS-REQ-1",
        "dataset_id": "businesses",
        "reason": "declined by market-regulator: purpose too broad",
    },
    "dataset.read": {
        "request_id": "DS-REQ-1",
        "dataset_id": "businesses",
        "reader": "tax",
        "fields": ["name", "address"],
        "records": 2,
        "subjects": [_C1],
    },
    "witness.policy_set": {
        "origin": "gov.example.cn/govchain/gov-demo",
        "quorum": 1,
        "witnesses": [{"name": _WITNESS, "vkey": _WITNESS_VKEY, "url": "https://audit.example.gov"}],
    },
}
"""One valid ``data`` per type (checked against its model); by type name, for version 1."""
NO_EXAMPLE = {"contract.deployed": "a whole contract definition: see `services/contract/definitions/*.json`"}

INTRO = f"""\
# Event types

<!-- Generated by `{COMMAND}`; do not edit: tests/docs/test_event_reference.py compares. -->

Every event is a signed envelope (CloudEvents 1.0 attributes plus `schemaversion`, `signer` and
`signature` or `batchproof`; see [Follow the chain](follow-the-chain.md)). Its `type` and
`schemaversion` pick one model below, and its `data` must match that model's schema: an unknown
type or version is refused as `unknown_type`, a payload that does not match as `invalid_payload`.
A department publishes an event on `gov.events.<source>.<type>`.

- **Changes chain state**: the event changes what later events are judged by (principals, keys,
  roles, policy, deployed contracts). The orderer cuts the block before it, and it must be
  published alone, never inside a batch envelope.
- **Who may publish**: identity events follow fixed rules (written out per type); every other type
  needs a grant in the chain's policy. Shown is the default policy `govchain init` writes into
  genesis; the root authority changes it on chain with `policy.rule_set`, so the chain's own
  policy decides (a type without a grant is refused as `unauthorized`). A signer acts for its
  `source`: a key of the source itself, or of one of the source department's officials.
- **Time**: an event's `time` must lie within the chain's window around the time of the block
  that orders it (genesis `policy.event_time`, ±300 s by default); the principals it names in
  `derived_by` (the contract engine) may be late, never early. Else `invalid_time`.
- **Schemas** are JSON Schema (draft 2020-12) as pydantic writes them:
  `python -m govchain.protocol.reference --json`. Unknown fields are refused everywhere. A few
  models check more than a schema can say; each says so under "Checked beyond the schema".
- Being on chain means the ledger accepted the event; whether it is consistent with a register
  (say, a transfer from the parcel's current owner) is for that register's projection, which
  records an inconsistent event as void.
"""


def grant_text(grant: Grant) -> str:
    """A default-policy grant in words."""
    who = _KINDS[grant.kind] if grant.kind else "any principal"
    if grant.principals is not None:
        named = " or ".join(f"`{p}`" for p in grant.principals)
        who = f"{named} ({who})" if grant.kind else named
    if grant.role:
        who += f" holding role `{grant.role}`"
    if "*" not in grant.departments:
        who += " in department " + " or ".join(f"`{d}`" for d in grant.departments)
    return who


def who_may_publish(name: str) -> str:
    """The structural rule, and/or the grants of the default policy."""
    parts = [RULES[name]] if name in RULED else []
    if name not in RULED or name in ALSO_POLICY:
        grants = "; or ".join(grant_text(g) for g in DEFAULT_POLICY.publish.get(name, []))
        parts.append(
            f"Default policy: {grants}."
            if grants
            else "Default policy: nobody, until the root authority grants it (`policy.rule_set`)."
        )
    return " ".join(parts)


def type_text(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return f"`{schema['$ref'].rsplit('/', 1)[-1]}`"
    if "anyOf" in schema:
        return " or ".join(type_text(branch) for branch in schema["anyOf"])
    if "const" in schema:
        return f"`{json.dumps(schema['const'])}`"
    if "enum" in schema:
        return "one of " + ", ".join(f"`{json.dumps(v)}`" for v in schema["enum"])
    kind = schema.get("type", "any JSON value")
    if kind == "array":
        return f"array of {type_text(schema.get('items', {}))}"
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return f"object of {type_text(schema['additionalProperties'])}"
    return str(kind)


_LIMITS = (
    ("pattern", "pattern `{}`"),
    ("minLength", "length ≥ {}"),
    ("maxLength", "length ≤ {}"),
    ("minimum", "≥ {}"),
    ("exclusiveMinimum", "> {}"),
    ("maximum", "≤ {}"),
    ("minItems", "items ≥ {}"),
    ("maxItems", "items ≤ {}"),
)


def constraints_text(schema: dict[str, Any], field: FieldInfo | None) -> str:
    """Limits of the field (and of the non-null branch of an optional one), and its default:
    a default is protocol too, since a block stores ``data`` as it was signed, defaults absent."""
    branches = [schema, *(b for b in schema.get("anyOf", []) if b.get("type") != "null")]
    found = [text.format(branch[key]) for branch in branches for key, text in _LIMITS if key in branch]
    if "default" in schema:
        found.append(f"default `{json.dumps(schema['default'])}`")
    elif field is not None and field.default_factory is not None:  # pydantic's schema leaves these out
        found.append(f"default `{json.dumps(to_jsonable_python(field.default_factory()))}`")  # type: ignore[call-arg]
    return "; ".join(found)


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def fields_table(schema: dict[str, Any], model: type[BaseModel] | None) -> list[str]:
    required = set(schema.get("required", []))
    fields = {info.alias or name: info for name, info in (model.model_fields if model else {}).items()}
    lines = ["| field | type | required | constraints | meaning |", "| --- | --- | --- | --- | --- |"]
    for name, field in schema.get("properties", {}).items():
        limits, meaning = constraints_text(field, fields.get(name)), prose(field.get("description", ""))
        lines.append(
            f"| `{name}` | {cell(type_text(field))} | {'yes' if name in required else 'no'} | "
            f"{cell(limits)} | {cell(meaning)} |"
        )
    return lines


def models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    """Every model an annotation names, however nested (lists, dicts, optionals)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        for field in annotation.model_fields.values():
            yield from models_in(field.annotation)
    for argument in typing.get_args(annotation):
        yield from models_in(argument)


def checked_in_code(model: type[BaseModel]) -> list[str]:
    """The validators of a model and the models inside it: checks its JSON Schema cannot carry."""
    notes: dict[str, str] = {}
    for inner in models_in(model):
        decorators = inner.__pydantic_decorators__
        for field_check in decorators.field_validators.values():
            for name in field_check.info.fields:
                notes[f"{inner.__name__}.{name}"] = f"`{inner.__name__}.{name}`"
        for model_check in decorators.model_validators.values():
            doc = paragraphs(model_check.func.__doc__).split("\n\n")[0]
            notes[inner.__name__] = f"`{inner.__name__}` as a whole" + (f": {doc.rstrip('.')}" if doc else "")
    return list(notes.values())


def example_of(event_type: EventType) -> dict[str, Any] | None:
    example = EXAMPLES.get(event_type.name) if event_type.version == 1 else None
    if example is not None:
        event_type.model.model_validate(example)  # raises: an example must be valid
        if event_type.name == "chain.genesis":
            Policy.model_validate(example["policy"])
    return example


def paragraphs(doc: str | None) -> str:
    """A docstring as Markdown: its paragraphs, each on one line, Sphinx roles dropped."""
    text = re.sub(r":[a-z]+:`", "`", inspect.cleandoc(doc or ""))
    return "\n\n".join(prose(" ".join(p.split())) for p in text.split("\n\n") if p.strip())


def prose(text: str) -> str:
    """Angle brackets outside code spans would be read as HTML tags."""
    parts = re.split(r"(`+[^`]*`+)", text)
    return "".join(p if p.startswith("`") else p.replace("<", "&lt;").replace(">", "&gt;") for p in parts)


def example_text(example: dict[str, Any]) -> str:
    """One field a line, each value compact: easier to read than a fully indented dump."""
    fields = (f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in example.items())
    return "{\n" + ",\n".join(fields) + "\n}"


def anchor(heading: str) -> str:
    return re.sub(r"[^a-z0-9 _-]", "", heading.lower()).replace(" ", "-")


def section(event_type: EventType) -> list[str]:
    name, model = event_type.name, event_type.model
    schema = model.model_json_schema()
    doc = paragraphs(model.__dict__.get("__doc__"))
    state = (
        "yes: published alone, never in a batch" if event_type.changes_state else "no: may travel in a batch envelope"
    )
    intake = (
        f"`gov.events.<source>.{name}`"
        if event_type.changes_state
        else f"`gov.events.<source>.{name}`, or inside a batch envelope on `gov.events.<source>._batch`"
    )
    lines = (
        [f"### {name} v{event_type.version}", ""]
        + ([doc, ""] if doc else [])
        + [
            f"- **Changes chain state**: {state}",
            f"- **Who may publish**: {who_may_publish(name)}",
            *([] if name == "chain.genesis" else [f"- **Published on**: {intake}"]),
            "",
            *fields_table(schema, model),
            "",
        ]
    )
    models = {inner.__name__: inner for inner in models_in(model)}
    if name == "chain.genesis":  # its policy is a plain object to the schema, a Policy to the chain
        policy = Policy.model_json_schema()
        schema = {**schema, "$defs": {**schema.get("$defs", {}), **policy.pop("$defs", {}), "Policy": policy}}
        models |= {inner.__name__: inner for inner in models_in(Policy)}
        lines += ["`policy` holds a `Policy` object (below), checked when the chain is founded.", ""]
    for definition, nested in sorted(schema.get("$defs", {}).items()):
        described = paragraphs(nested.get("description")).replace("\n\n", " ")
        lines += [
            f"`{definition}`" + (f": {described}" if described else ""),
            "",
            *fields_table(nested, models.get(definition)),
            "",
        ]
    checks = checked_in_code(model)
    if checks:
        lines += ["Checked beyond the schema: " + "; ".join(checks) + ".", ""]
    example = example_of(event_type)
    if example is not None:
        lines += ["Example `data`:", "", "```json", example_text(example), "```", ""]
    elif name in NO_EXAMPLE:
        lines += [f"Example `data`: {NO_EXAMPLE[name]}.", ""]
    return lines


def render() -> str:
    """The whole reference, as committed in docs/event-types.md."""
    missing = RULED ^ set(RULES)
    if missing:
        raise RuntimeError(f"validation rules and their words differ for: {sorted(missing)}")
    types = list(EVENT_TYPES)
    lines = [INTRO, "## All types", "", "| type | version | changes state | summary |", "| --- | --- | --- | --- |"]
    for t in types:
        heading = f"{t.name} v{t.version}"
        summary = paragraphs(t.model.__dict__.get("__doc__")).split("\n\n")[0] or "—"
        lines.append(
            f"| [`{t.name}`](#{anchor(heading)}) | {t.version} | {'yes' if t.changes_state else 'no'} | "
            f"{cell(summary)} |"
        )
    lines += ["", "## Types", ""]
    for t in types:
        lines += section(t)
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: list[str]) -> int:
    if argv == ["--json"]:
        sys.stdout.write(json.dumps(EVENT_TYPES.json_schemas(), indent=2, ensure_ascii=False) + "\n")
    elif argv:
        sys.stderr.write(f"usage: {COMMAND}   (or --json for the JSON Schemas)\n")
        return 2
    else:
        sys.stdout.write(render())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
