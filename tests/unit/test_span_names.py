"""Every span and attribute the services name comes from the registry (names.py).

SREs search Jaeger by these names; a literal typed at a call site would drift from the
registry without anyone noticing.
"""

from __future__ import annotations

import ast
from pathlib import Path

from lingua_common.telemetry import names

REPO_ROOT = Path(__file__).resolve().parents[2]
SPAN_CALLS = {"start_as_current_span", "start_span", "continued", "add_event"}


def _is_registry_name(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "names"
        and hasattr(names, node.attr)
    )


def _span_calls() -> list[tuple[str, ast.Call]]:
    found: list[tuple[str, ast.Call]] = []
    for package in ("services", "lingua_common"):
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            if "telemetry" in path.parts:  # the plumbing passes names through
                continue
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Call):
                    func = node.func
                    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                    if name in SPAN_CALLS:
                        found.append((f"{path.relative_to(REPO_ROOT)}:{node.lineno}", node))
    return found


def test_span_names_and_attribute_keys_come_from_the_registry() -> None:
    calls = _span_calls()
    assert len(calls) >= 15, "the services start their spans through these calls"
    wrong: list[str] = []
    for where, call in calls:
        func = call.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        # continued(tracer, NAME, parent, ATTRIBUTES); the others take NAME first.
        name_arg = call.args[1] if name == "continued" else call.args[0]
        if not _is_registry_name(name_arg):
            wrong.append(f"{where}: span name {ast.unparse(name_arg)}")
        dicts = [kw.value for kw in call.keywords if kw.arg == "attributes"]
        dicts += [a for a in call.args if isinstance(a, ast.Dict)]
        for mapping in dicts:
            if isinstance(mapping, ast.Dict):
                for key in mapping.keys:
                    if key is None or not _is_registry_name(key):
                        wrong.append(f"{where}: attribute {ast.unparse(key) if key else '**'}")
    assert not wrong, wrong


def test_the_registry_has_no_duplicate_values() -> None:
    values = [v for k, v in vars(names).items() if k.isupper()]
    assert len(values) == len(set(values))
