"""The floors of STYLE.md, checked: no module of an app imports an app above it.

annotation is the ground; feedback and reviews stand on it; exports on those; training on top;
concord only wires them together and no app imports it. A lower floor that must react to a
higher one is subscribed to by the higher floor (signals, registries filled in ``ready()``).
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Each app, and the apps of ours it may import.
ALLOWED = {
    "annotation": set(),
    "feedback": {"annotation"},
    "reviews": {"annotation"},
    "exports": {"annotation", "reviews", "feedback"},
    "training": {"annotation", "reviews", "feedback", "exports"},
}
OURS = {*ALLOWED, "concord"}

pytestmark = pytest.mark.nodb


def imported_apps(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names & OURS


def test_no_app_imports_a_floor_above_it():
    breaches = []
    for app, allowed in ALLOWED.items():
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            above = imported_apps(path) - allowed - {app}
            if above:
                breaches.append(f"{path.relative_to(ROOT)} imports {', '.join(sorted(above))}")
    assert breaches == [], "\n".join(breaches)


def test_the_check_sees_a_breach(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("from reviews.services.disputes import review_sprint\nimport training\n")
    assert imported_apps(module) == {"reviews", "training"}
