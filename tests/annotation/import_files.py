"""Builders of real import files for the tests: each writes bytes to disk as a user's file."""

import csv
import io
import json
from pathlib import Path


def concord_row(external_id: str, **overrides) -> dict:
    row = {
        "external_id": external_id,
        "prompt": f"How do I reset my password? ({external_id})",
        "context": [
            {
                "id": "kb-12",
                "title": "Account help",
                "text": "Use the reset link.",
                "source": "https://kb/12",
            }
        ],
        "responses": [
            {"id": "a", "text": "Click *Forgot password* on the login page.", "model": "bot-v3"},
            {"id": "b", "text": "Email support and wait.", "model": "bot-v4"},
        ],
        "metadata": {"source": "prod-log", "stratum": "billing", "tags": ["account"]},
    }
    row.update(overrides)
    return row


def hh_dialogue(*turns: tuple[str, str]) -> str:
    return "".join(f"\n\n{speaker}: {text}" for speaker, text in turns)


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path
