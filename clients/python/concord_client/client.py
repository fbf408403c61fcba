"""The client: one :class:`Concord` per server and token, a method per thing a script does.

Methods return the server's JSON as plain dicts (the OpenAPI schema at ``/api/schema/`` says
what each holds) and raise :class:`ConcordAPIError` for any refusal, so a script never parses an
error body itself. Lists that the server pages are read to the end.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import requests

from concord_client.errors import ChecksumMismatch, ConcordAPIError, error_from
from concord_client.feedback_leads import FeedbackLeadMethods

JSON = dict[str, Any]
FINISHED = {"done", "failed", "cancelled"}


class Concord(FeedbackLeadMethods):
    """A Concord server at ``url`` (e.g. ``http://127.0.0.1:8000``), as the owner of ``token``."""

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        timeout: float = 60.0,
        session: requests.Session | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = session or requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Token {token}"

    @classmethod
    def login(cls, url: str, username: str, password: str, **options: Any) -> Concord:
        """A client with a token from ``POST /api/v1/auth/token``."""
        with cls(url, **options) as anonymous:
            token = anonymous._call(
                "POST", "/auth/token", json={"username": username, "password": password}
            )
        return cls(url, token["token"], **options)

    def close(self) -> None:
        """Close the kept-alive connections (also on leaving a ``with Concord(...)`` block)."""
        self.session.close()

    def __enter__(self) -> Concord:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- plumbing --------------------------------------------------------------------------

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.session.request(
            method, f"{self.url}/api/v1{path}", timeout=self.timeout, **kwargs
        )
        if response.status_code >= 400:
            raise error_from(response)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def _pages(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[JSON]:
        page = 1
        while True:
            body = self._call("GET", path, params={**(params or {}), "page": page})
            if isinstance(body, list):  # an unpaged list
                yield from body
                return
            yield from body["results"]
            if not body.get("next"):
                return
            page += 1

    def _wait(self, path: str, what: str, timeout: float, poll: float) -> JSON:
        """The job at ``path`` once done; failed or cancelled raises a 409 with its reason."""
        deadline = time.monotonic() + timeout
        while True:
            body = self._call("GET", path)
            if body["status"] == "done":
                return body
            if body["status"] in FINISHED:
                raise ConcordAPIError(409, f"{what} {body['status']}: {body.get('error')}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{path} still {body['status']} after {timeout:.0f} s")
            time.sleep(poll)

    # --- setup -----------------------------------------------------------------------------

    def sprints(self) -> list[JSON]:
        """The caller's sprints, each with the caller's ``role``."""
        return list(self._pages("/sprints"))

    def sprint(self, sprint: int) -> JSON:
        return self._call("GET", f"/sprints/{sprint}")

    def create_rubric(self, name: str, criteria: list[JSON], guidelines: str = "") -> JSON:
        """A new rubric, or the next version of ``name`` (a stored version is never edited)."""
        body = {"name": name, "guidelines": guidelines, "criteria": criteria}
        return self._call("POST", "/rubrics", json=body)

    def rubrics(self) -> list[JSON]:
        return list(self._pages("/rubrics"))

    def create_sprint(self, name: str, slug: str, rubric: int, **settings: Any) -> JSON:
        """A sprint the caller will lead; ``settings`` are its fields (``overlap_k``,
        ``gold_rate``, ``agreement_threshold``, ``status``, ``deadline`` ...)."""
        return self._call(
            "POST", "/sprints", json={"name": name, "slug": slug, "rubric": rubric, **settings}
        )

    def update_sprint(self, sprint: int, **changes: Any) -> JSON:
        return self._call("PATCH", f"/sprints/{sprint}", json=changes)

    def members(self, sprint: int) -> list[JSON]:
        return self._call("GET", f"/sprints/{sprint}/members")

    def add_member(
        self, sprint: int, user: int, role: str = "annotator", pseudonym: str = ""
    ) -> JSON:
        """Add someone from another of the caller's sprints."""
        body = {"user": user, "role": role, "pseudonym": pseudonym}
        return self._call("POST", f"/sprints/{sprint}/members", json=body)["member"]

    def invite(self, sprint: int, username: str, email: str = "", role: str = "annotator") -> JSON:
        """Invite a new person: ``{"member", "invitation_url", "expires_at"}``; the link is
        shown once."""
        body = {"username": username, "email": email, "role": role}
        return self._call("POST", f"/sprints/{sprint}/members", json=body)

    def remove_member(self, sprint: int, user: int) -> None:
        self._call("DELETE", f"/sprints/{sprint}/members/{user}")

    # --- import and labeling ---------------------------------------------------------------

    def import_items(
        self,
        sprint: int,
        items: str | Path | Iterable[Mapping[str, Any]],
        *,
        file_format: str | None = None,
    ) -> JSON:
        """Import a JSONL or CSV file (a path), or rows given as dicts (sent as JSONL): all or
        nothing; a refusal names the line and field of every problem."""
        if isinstance(items, str | Path):
            path = Path(items)
            name, content = path.name, path.read_bytes()
        else:
            name = "items.jsonl"
            content = b"".join(json.dumps(row).encode() + b"\n" for row in items)
        data = {"format": file_format} if file_format else {}
        return self._call(
            "POST", f"/sprints/{sprint}/items/import", files={"file": (name, content)}, data=data
        )

    def next_item(self, sprint: int) -> JSON | None:
        """The caller's next assignment (``{"assignment", "item", "rubric", ...}``), or
        ``None`` when their queue is empty."""
        return self._call("GET", f"/sprints/{sprint}/next")

    def submit(
        self,
        assignment: int,
        answers: JSON,
        *,
        seconds: float | None = None,
        idempotency_key: str | None = None,
    ) -> int:
        """Submit (or revise) a judgment; returns its id. A retried call with the same
        ``idempotency_key`` stores nothing twice."""
        body: JSON = {"assignment": assignment, "answers": answers}
        if seconds is not None:
            body["seconds"] = seconds
        headers = {"Idempotency-Key": idempotency_key or uuid.uuid4().hex}
        return self._call("POST", "/judgments", json=body, headers=headers)["id"]

    def skip(self, assignment: int, reason: str) -> JSON:
        return self._call("POST", f"/assignments/{assignment}/skip", json={"reason": reason})

    # --- reviews ---------------------------------------------------------------------------

    def agreement(self, sprint: int) -> JSON:
        return self._call("GET", f"/sprints/{sprint}/agreement")

    def consensus(self, sprint: int, method: str | None = None) -> list[JSON]:
        return list(
            self._pages(f"/sprints/{sprint}/consensus", {"method": method} if method else None)
        )

    def recompute_consensus(self, sprint: int) -> JSON:
        """Recompute consensus and disputes now, without a worker; answers the counts."""
        return self._call("POST", f"/sprints/{sprint}/consensus/recompute")

    def disputes(self, sprint: int, status: str = "open") -> list[JSON]:
        return list(self._pages("/disputes", {"sprint": sprint, "status": status}))

    # --- exports ---------------------------------------------------------------------------

    def start_export(
        self,
        sprints: list[int],
        kind: str = "preference",
        file_format: str = "jsonl",
        filters: JSON | None = None,
    ) -> JSON:
        body = {"sprints": sprints, "kind": kind, "format": file_format, "filters": filters or {}}
        return self._call("POST", "/exports", json=body)

    def export(self, export: int) -> JSON:
        return self._call("GET", f"/exports/{export}")

    def wait_for_export(self, export: int, timeout: float = 600.0, poll: float = 0.5) -> JSON:
        """The export once it is done or failed (a failure raises, with its reason)."""
        return self._wait(f"/exports/{export}", f"export {export}", timeout, poll)

    def download_export(self, export: int, path: str | Path) -> Path:
        """Stream the export's file to ``path`` and check its SHA-256 against the one the
        server recorded; a mismatch removes the file and raises :class:`ChecksumMismatch`."""
        expected = self.export(export)["sha256"]
        target, digest = Path(path), hashlib.sha256()
        with self.session.get(
            f"{self.url}/api/v1/exports/{export}/download", stream=True, timeout=self.timeout
        ) as response:
            if response.status_code >= 400:
                raise error_from(response)
            with target.open("wb") as out:
                for chunk in response.iter_content(chunk_size=1 << 20):
                    digest.update(chunk)
                    out.write(chunk)
        if digest.hexdigest() != expected:
            target.unlink()
            raise ChecksumMismatch(
                f"export {export}: got {digest.hexdigest()}, expected {expected}"
            )
        return target

    def load_dataset(self, export: int, directory: str | Path = ".") -> Any:
        """The export as a Hugging Face ``datasets.Dataset`` (JSONL, CSV or Parquet), downloaded
        and verified first. Needs ``pip install 'concord-client[datasets]'``."""
        import datasets  # an optional dependency: only this method needs it

        body = self.export(export)
        suffix = {"jsonl": ".jsonl", "csv": ".csv", "parquet": ".parquet"}[body["format"]]
        path = self.download_export(export, Path(directory) / f"concord-export-{export}{suffix}")
        loader = {"jsonl": "json", "csv": "csv", "parquet": "parquet"}[body["format"]]
        return datasets.load_dataset(loader, data_files=str(path), split="train")

    # --- training and scoring --------------------------------------------------------------

    def train(self, dataset: int, **options: Any) -> JSON:
        """Start a reward-model run on an export (``base_model``, ``epochs``, ``seed`` ...)."""
        return self._call("POST", "/training-runs", json={"dataset": dataset, **options})

    def training_run(self, run: int) -> JSON:
        return self._call("GET", f"/training-runs/{run}")

    def wait_for_run(self, run: int, timeout: float = 3600.0, poll: float = 1.0) -> JSON:
        """The run once it has finished; a failed or cancelled run raises with its reason."""
        return self._wait(f"/training-runs/{run}", f"run {run}", timeout, poll)

    def models(self) -> list[JSON]:
        return list(self._pages("/models"))

    def promote(self, model: int, stage: str = "production") -> JSON:
        return self._call("POST", f"/models/{model}/promote", json={"stage": stage})

    def score(
        self,
        model: int,
        prompt: Any,
        responses: list[str],
        *,
        context: list[dict] | None = None,
        purpose: str = "serving",
    ) -> list[float]:
        """The model's reward for each response to ``prompt`` (text or chat messages), with
        the item's ``context`` documents; ``purpose="evaluation"`` scores a candidate too.
        ``purpose`` is sent only when it is not the default, so plain calls still work with a
        server from before purposes existed (its body check refuses unknown fields)."""
        body: JSON = {"prompt": prompt, "responses": responses}
        if purpose != "serving":
            body["purpose"] = purpose
        if context is not None:
            body["context"] = context
        return self._call("POST", f"/models/{model}/score", json=body)["scores"]

    def score_items(
        self, model: int, items: list[dict], *, purpose: str = "serving"
    ) -> list[list[float]]:
        """The model's rewards for a batch of ``{"prompt", "context"?, "responses"}`` items
        (at most the server's CONCORD_SCORE_MAX_ITEMS), one list per item, in order."""
        body = {"items": items, "purpose": purpose}
        results = self._call("POST", f"/models/{model}/score", json=body)["results"]
        return [result["scores"] for result in results]
