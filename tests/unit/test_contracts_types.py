"""Deployment type-checks every contract expression: what cannot work is refused with a clear
error before it reaches the chain, not discovered when a case runs into it."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from pydantic import ValidationError

from govchain.protocol import catalog  # noqa: F401  (registers every event type)
from govchain.protocol.contracts import ContractDefinition, ContractDeployed
from govchain.protocol.registry import EVENT_TYPES
from govchain.services.contract import BUILTIN_CONTRACTS


def builtin(name: str) -> dict[str, Any]:
    return json.loads(BUILTIN_CONTRACTS[name].read_text())


def refusal(definition: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as caught:
        ContractDefinition.model_validate(definition)
    return str(caught.value.errors()[0]["msg"])


def licence_with_guard(expr: str) -> dict[str, Any]:
    definition = builtin("business-license")
    definition["transitions"][0]["guards"] = [{"name": "g", "expr": expr}]
    return definition


@pytest.mark.parametrize("name", sorted(BUILTIN_CONTRACTS))
def test_the_shipped_contracts_type_check(name: str) -> None:
    ContractDefinition.model_validate(builtin(name))


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ('1 + "a" == 2', "'+' is not defined for a int and a string"),
        ('"hello"', "must be a bool, not a string"),
        ("42", "must be a bool, not a int"),
        ('has_role("a")', "has_role() takes 2 argument(s), 1 given"),
        ("principal_kind(event.data.applicant) == 3", "cannot compare a string with a int"),
        ("principal_kind(42) == 'citizen'", "no overload of principal_kind() for (int)"),
        ("add_days(block.time, '1') == 'x'", "no overload of add_days()"),
        ("event.data.applicnt == 'x'", "has no field 'applicnt'"),
        ("case.parcel_id == 'x'", "case has no field 'parcel_id'"),  # a new licence case has no variables
        ("event.data.documents.all(d, size(d))", "the predicate of all() must be a bool"),
        ("event.data.kind && true", "the left operand of '&&' must be a bool"),
        ("size(event.data.documents) > '1'", "cannot order a int and a string"),
        ("1 in ['a']", "a int is never in a list(string)"),
        ("true ? 1 : 'one'", "the branches of '?:' differ"),
        ("!event.data.kind", "the operand of '!' must be a bool"),
        ("event.data.kind.size(1) == 1", "size() takes 1 argument(s), 2 given"),
        ("launch_missiles(event)", "unknown function 'launch_missiles'"),
        ("os.environ == 1", "unknown name 'os'"),
        ("max(1, 2) == 2", "unknown function 'max'"),  # not in the engine's CEL runtime: would fail every time
    ],
)
def test_an_ill_typed_guard_is_refused(expr: str, message: str) -> None:
    found = refusal(licence_with_guard(expr))
    assert message in found and "transition decide.guard g" in found, found


@pytest.mark.parametrize(
    "expr",
    [
        "event.data.documents.all(d, document_registered(d))",
        "size(event.data.documents) / 0 > 1",  # well typed; fails at run time, which rejects the case
        "event.source in ['a', 'b'] || has_role(event.source, 'registrar')",
        "event.data.documents[0].startsWith('1')",
        "timestamp(block.time) < timestamp('2030-01-01T00:00:00Z')",
        "event.data.documents.map(d, size(d)).all(n, n == 64)",
        "has(event.data.kind) && {'a': 1}['a'] == 1",
        "1 == 1.0 && dyn(event.data.kind) == 1",
    ],
)
def test_well_typed_guards_are_accepted(expr: str) -> None:
    ContractDefinition.model_validate(licence_with_guard(expr))


def test_when_must_be_a_bool() -> None:
    definition = builtin("land-transfer")
    definition["transitions"][1]["when"] = "case.approvals"
    assert "transition approve_and_record.when: must be a bool, not a list" in refusal(definition)


def test_case_variables_are_typed_from_what_sets_them() -> None:
    definition = builtin("land-transfer")
    definition["transitions"][1]["when"] = "size(case.approvals) + case.parcel_id == 1"
    assert "'+' is not defined for a int and a string" in refusal(definition)
    definition = builtin("land-transfer")
    definition["transitions"][0]["then"]["set"]["key"] = "'x'"
    assert "'key' is a reserved case field" in refusal(definition)


def test_case_failed_exists_only_where_something_failed() -> None:
    definition = builtin("business-license")
    definition["transitions"][0]["then"]["emit"][0]["data"]["kind"] = "case.failed"
    assert "has no field 'failed'" in refusal(definition)


def test_a_deadline_has_no_event() -> None:
    definition = builtin("land-transfer")
    definition["deadlines"][0]["then"]["emit"][0]["data"]["request_id"] = "event.data.request_id"
    assert "a deadline has no triggering event" in refusal(definition)


def test_an_unknown_trigger_type_is_refused() -> None:
    definition = builtin("land-transfer")
    definition["transitions"][2]["on"] = "land.transfer_aproved"
    assert "transition approve: unknown event type 'land.transfer_aproved'" in refusal(definition)


def test_an_unknown_emitted_type_is_refused() -> None:
    definition = builtin("business-license")
    definition["transitions"][0]["then"]["emit"][0]["type"] = "license.granted"
    assert "unknown event type 'license.granted'" in refusal(definition)


def test_emitted_data_is_checked_against_the_payload_model() -> None:
    base = builtin("business-license")
    unknown = copy.deepcopy(base)
    unknown["transitions"][0]["then"]["emit"][0]["data"]["colour"] = "'red'"
    assert "license.issued has no field(s) ['colour']" in refusal(unknown)
    missing = copy.deepcopy(base)
    del missing["transitions"][0]["then"]["emit"][0]["data"]["valid_until"]
    assert "required field(s) of license.issued not emitted: ['valid_until']" in refusal(missing)
    wrong = copy.deepcopy(base)
    wrong["transitions"][0]["then"]["emit"][0]["data"]["kind"] = "size(event.data.documents)"
    assert "license.issued wants a string, the expression is a int" in refusal(wrong)
    not_json = copy.deepcopy(base)
    not_json["transitions"][0]["then"]["emit"][0]["data"]["valid_from"] = "timestamp(block.time)"
    assert "a timestamp is not plain JSON" in refusal(not_json)
    stored = builtin("land-transfer")
    stored["transitions"][0]["then"]["set"]["opened"] = "timestamp(block.time)"
    assert "set.opened: a timestamp is not plain JSON" in refusal(stored)


def test_case_key_is_checked_against_every_trigger() -> None:
    definition = builtin("land-transfer")
    definition["case_key"] = "event.data.parcel_id"  # land.transfer_approved has no parcel_id
    assert "case_key (on land.transfer_approved)" in refusal(definition)


def test_on_error_is_type_checked_too() -> None:
    definition = builtin("business-license")
    definition["on_error"]["emit"][0]["data"]["failed_condition"] = "size(case.failed)"
    assert "on_error.emit[0]" in refusal(definition)


def test_a_syntax_error_names_where_it_is() -> None:
    found = refusal(licence_with_guard("event.data.kind +"))
    assert "transition decide.guard g" in found and "Failed to parse" in found


def test_the_ledger_refuses_such_a_deployment_as_an_invalid_payload() -> None:
    from govchain.protocol.errors import EventRejected, RejectionReason

    with pytest.raises(EventRejected) as caught:
        EVENT_TYPES.parse_data("contract.deployed", 1, {"definition": licence_with_guard("42")})
    assert caught.value.reason == RejectionReason.INVALID_PAYLOAD
    assert "must be a bool" in str(caught.value)
    ContractDeployed.model_validate({"definition": builtin("business-license")})
