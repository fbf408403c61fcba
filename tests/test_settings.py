"""concord/settings.py, read in fresh processes with controlled environments: the secret key is
required outside debug, a production configuration passes Django's deployment checks, the
database and broker follow DATABASE_URL and CELERY_BROKER_URL with embedded defaults, and a bad
CONCORD_* value stops start-up naming the variable. Every CONCORD_* knob is read there through a
typed reader and listed in the README's table, and app code reads knobs as settings.X only."""

import ast
import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from concord import environment

BASE_DIR = Path(__file__).resolve().parent.parent

PRINT_SETTINGS = """
import json
from django.conf import settings
db = settings.DATABASES["default"]
print(json.dumps({
    "engine": db["ENGINE"], "name": str(db["NAME"]), "host": db.get("HOST", ""),
    "port": db.get("PORT", ""), "user": db.get("USER", ""),
    "broker": settings.CELERY_BROKER_URL, "debug": settings.DEBUG,
}))
"""


def run_python(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run Python in a fresh process with concord.settings and only the given Concord
    variables: nothing of this test run's environment (CI's DATABASE_URL, say) leaks in."""
    clean = {
        key: value
        for key, value in os.environ.items()
        if key not in {"SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL", "ALLOWED_HOSTS"}
        and not key.startswith(("CONCORD_", "DJANGO_"))
    }
    clean.update(DJANGO_SETTINGS_MODULE="concord.settings", CONCORD_DATA_DIR=str(tmp_path / "data"))
    clean.update(env)
    return subprocess.run(
        [sys.executable, *args],
        cwd=BASE_DIR,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


def read_settings(tmp_path: Path, **env: str) -> dict:
    result = run_python(
        ["-c", "import django; django.setup()\n" + PRINT_SETTINGS],
        tmp_path,
        SECRET_KEY="x" * 60,
        **env,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_missing_secret_key_outside_debug_is_refused(tmp_path):
    result = run_python(["-c", "from django.conf import settings; settings.DEBUG"], tmp_path)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY" in result.stderr


def test_debug_instance_runs_without_secret_key(tmp_path):
    result = run_python(
        ["-c", "import django; django.setup()\n" + PRINT_SETTINGS], tmp_path, CONCORD_DEBUG="1"
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1])["debug"] is True


def test_production_settings_pass_deploy_checks(tmp_path):
    result = run_python(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        tmp_path,
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="concord.example.com",
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_embedded_defaults_are_sqlite_and_filesystem_broker(tmp_path):
    found = read_settings(tmp_path)

    assert found["engine"] == "django.db.backends.sqlite3"
    assert found["name"] == str((tmp_path / "data" / "concord.sqlite3").resolve())
    assert found["broker"] == "filesystem://"
    assert found["debug"] is False
    assert (tmp_path / "data" / "broker" / "queue").is_dir()


def test_database_url_and_broker_url_are_honoured(tmp_path):
    found = read_settings(
        tmp_path,
        DATABASE_URL="postgres://concord@db.internal:6543/labels",
        CELERY_BROKER_URL="redis://cache.internal:6380/2",
    )

    assert found["engine"] == "django.db.backends.postgresql"
    assert (found["name"], found["host"], found["port"], found["user"]) == (
        "labels",
        "db.internal",
        6543,
        "concord",
    )
    assert found["broker"] == "redis://cache.internal:6380/2"
    assert not (tmp_path / "data" / "broker").exists()


@pytest.mark.parametrize("value", ["", "0", "false"])
def test_debug_flag_off_values(tmp_path, value):
    assert read_settings(tmp_path, CONCORD_DEBUG=value)["debug"] is False


# --- every knob in one place -------------------------------------------------------------------
# concord/settings.py reads every CONCORD_* variable through a reader of concord/environment.py;
# the README's configuration table lists exactly those; app code reads them as settings.X only.

SETTINGS_FILE = BASE_DIR / "concord" / "settings.py"
README = BASE_DIR / "README.md"
KNOB = re.compile(r"CONCORD_[A-Z0-9_]+")
READERS = frozenset(name for name in vars(environment) if name.startswith("env_"))


def app_modules() -> list[Path]:
    """Every Python file of the project's own packages: each app (a folder with apps.py) and
    ``concord``."""
    packages = [BASE_DIR / "concord"] + [app.parent for app in BASE_DIR.glob("*/apps.py")]
    return sorted(path for package in packages for path in package.rglob("*.py"))


def is_knob(node: ast.AST | None) -> bool:
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and KNOB.fullmatch(node.value) is not None
    )


def line_number(problem: str) -> int:
    return int(problem.split(":")[0].removeprefix("line "))


def knobs_read(source: str) -> tuple[set[str], list[str]]:
    """The CONCORD_* names a settings module reads through a reader, and the lines that read
    one any other way (``os.environ``, ``os.getenv``, a reader given a computed name)."""
    names: set[str] = set()
    problems: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        if isinstance(node.func, ast.Name) and node.func.id in READERS:
            first = node.args[0] if node.args else None
            if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                problems.append(f"line {node.lineno}: {node.func.id} needs the name as a literal")
            elif KNOB.fullmatch(first.value):
                names.add(first.value)
        elif any(is_knob(arg) for arg in node.args):
            problems.append(f"line {node.lineno}: {ast.unparse(node)[:80]}")
    return names, sorted(problems, key=line_number)


def raw_knob_reads(source: str) -> list[str]:
    """Lines of an app module that read a CONCORD_* knob other than as ``settings.X``:
    ``getattr(settings, "CONCORD_…")``, any ``getattr(settings, …, default)``, or the
    environment (``os.environ.get``, ``os.environ[…]``, ``os.getenv``, ``… in os.environ``)."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        hit = False
        if isinstance(node, ast.Call):
            func = ast.unparse(node.func)
            if func in {"getattr", "hasattr"} and node.args:
                on_settings = ast.unparse(node.args[0]).endswith("settings")
                hit = on_settings and (
                    len(node.args) > 2 or any(is_knob(arg) for arg in node.args[1:])
                )
            elif "environ" in func or "getenv" in func:
                hit = any(is_knob(arg) for arg in node.args)
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            hit = "environ" in ast.unparse(node.value) and is_knob(node.slice)
        elif isinstance(node, ast.Compare):
            hit = is_knob(node.left) and any("environ" in ast.unparse(c) for c in node.comparators)
        if hit:
            found.append(f"line {node.lineno}: {ast.unparse(node)[:80]}")
    return sorted(found, key=line_number)


def readme_table() -> dict[str, list[str]]:
    """The README's configuration table: every CONCORD_* name in a row's first cell, with the
    row's other cells."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, list[str]] = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not line.startswith("|") or len(cells) < 3:
            continue
        for name in re.findall(r"`(CONCORD_[A-Z0-9_]+)`", cells[0]):
            assert name not in rows, f"{name} has two rows in the README's table"
            rows[name] = cells[1:]
    return rows


def test_every_knob_settings_reads_is_in_the_readme_table_and_back():
    read, problems = knobs_read(SETTINGS_FILE.read_text(encoding="utf-8"))
    table = readme_table()

    assert not problems, f"concord/settings.py reads CONCORD_* knobs without a reader: {problems}"
    assert len(read) >= 30, "the parse found the settings' readers"
    assert not read - set(table), f"read in concord/settings.py, not in README: {read - set(table)}"
    assert not set(table) - read, f"in README, not read by concord/settings.py: {set(table) - read}"
    empty = sorted(name for name, cells in table.items() if not all(cells))
    assert not empty, f"README rows without a default or a meaning: {empty}"


def test_app_code_reads_knobs_as_settings_attributes_only():
    defined = {  # every name concord/settings.py assigns, annotated or under an `if`
        node.id
        for node in ast.walk(ast.parse(SETTINGS_FILE.read_text(encoding="utf-8")))
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)
    }
    raw_reads: dict[str, list[str]] = {}
    unknown: dict[str, set[str]] = {}
    for path in app_modules():
        source = path.read_text(encoding="utf-8")
        name = str(path.relative_to(BASE_DIR))
        if found := raw_knob_reads(source):
            raw_reads[name] = found
        used = set(re.findall(r"\bsettings\.(CONCORD_[A-Z0-9_]+)", source)) - defined
        if used:
            unknown[name] = used

    assert len(app_modules()) > 50
    assert not raw_reads, f"read these as settings.X, set in concord/settings.py: {raw_reads}"
    assert not unknown, f"settings.X that concord/settings.py never sets: {unknown}"


def test_the_checks_catch_what_they_forbid():
    """The two scans above, on planted lines: each forbidden read is found, settings.X is not."""
    planted = "\n".join(
        [
            'a = getattr(settings, "CONCORD_A", 1)',
            'b = getattr(django_settings, "CONCORD_B")',
            'c = getattr(settings, "OTHER", None)',
            'd = os.environ.get("CONCORD_D", "1")',
            'e = os.environ["CONCORD_E"]',
            'f = os.getenv("CONCORD_F")',
            'g = "CONCORD_G" in os.environ',
            "h = settings.CONCORD_H",
            'os.environ["CONCORD_I"] = "written, not read"',
            'env = {**os.environ, "CONCORD_J": "a child process"}',
        ]
    )
    assert [line.split(":")[0] for line in raw_knob_reads(planted)] == [
        f"line {n}" for n in range(1, 8)
    ]
    names, problems = knobs_read(
        'A = env_int("CONCORD_A", 1)\nB = int(os.environ.get("CONCORD_B", "1"))\n'
        'C = env_str(f"CONCORD_{x}", "")\nD = env_list("ALLOWED_HOSTS", [])\n'
    )
    assert names == {"CONCORD_A"}
    assert [problem.split(":")[0] for problem in problems] == ["line 2", "line 3"]


# --- readers refuse bad values, naming the variable ----------------------------------------------


@pytest.mark.parametrize(
    ("read", "value", "expected"),
    [
        (lambda: environment.env_int("CONCORD_X", 1), "soon", "a whole number"),
        (lambda: environment.env_int("CONCORD_X", 1), "1.5", "a whole number"),
        (lambda: environment.env_int("CONCORD_X", 1, minimum=1), "0", "at least 1"),
        (lambda: environment.env_float("CONCORD_X", 1.0), "nan", "a number"),
        (lambda: environment.env_float("CONCORD_X", 1.0, above=0), "0", "above 0"),
        (lambda: environment.env_float("CONCORD_X", 0.1, maximum=0.9), "1.5", "at most 0.9"),
        (lambda: environment.env_flag("CONCORD_X"), "maybe", "one of 1, true"),
        (lambda: environment.env_str("CONCORD_X", "A", choices=("A", "B")), "C", "one of A, B"),
        (lambda: environment.env_str("CONCORD_X", "", pattern=r"[a-z]+"), "GPU!", "of the form"),
    ],
)
def test_a_bad_value_is_refused_naming_the_variable(monkeypatch, read, value, expected):
    monkeypatch.setenv("CONCORD_X", value)
    with pytest.raises(ImproperlyConfigured) as refused:
        read()
    message = str(refused.value)
    assert message.startswith("CONCORD_X must be ") and expected in message
    assert message.endswith(f"not {value!r}.")


def test_readers_parse_good_values_and_default_when_blank(monkeypatch):
    monkeypatch.setenv("CONCORD_X", " 1_000 ")
    assert environment.env_int("CONCORD_X", 1, minimum=1) == 1000
    assert environment.env_float("CONCORD_X", 1.0) == 1000.0
    monkeypatch.setenv("CONCORD_X", "Off")
    assert environment.env_flag("CONCORD_X", default=True) is False
    monkeypatch.setenv("CONCORD_X", "warning")
    assert environment.env_str("CONCORD_X", "INFO", choices=("INFO", "WARNING")) == "WARNING"
    monkeypatch.setenv("CONCORD_X", "  ")
    assert environment.env_int("CONCORD_X", 7, minimum=100) == 7
    assert environment.env_flag("CONCORD_X", default=True) is True


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CONCORD_EXPORT_STALL_SECONDS", "ten minutes"),
        ("CONCORD_RETRAIN_AFTER_LABELS", "0"),
        ("CONCORD_SSL_REDIRECT", "maybe"),
    ],
)
def test_start_up_fails_on_a_bad_value_naming_the_variable(tmp_path, name, value):
    result = run_python(
        ["-c", "import django; django.setup()"], tmp_path, SECRET_KEY="x" * 60, **{name: value}
    )

    assert result.returncode != 0
    assert f"ImproperlyConfigured: {name} must be" in result.stderr
    assert repr(value) in result.stderr


@pytest.mark.parametrize(("value", "threshold"), [("", 100), ("7", 7)])
def test_retrain_after_labels_comes_from_the_environment(tmp_path, value, threshold):
    result = run_python(
        [
            "-c",
            "import django; django.setup()\n"
            "from django.conf import settings\n"
            "from training.services.registry import retrain_threshold\n"
            "print(settings.CONCORD_RETRAIN_AFTER_LABELS, retrain_threshold())",
        ],
        tmp_path,
        SECRET_KEY="x" * 60,
        CONCORD_RETRAIN_AFTER_LABELS=value,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(threshold), str(threshold)]
