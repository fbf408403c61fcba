"""``python manage.py evaluate_policy <candidate id> (--dataset ID | --prompts FILE.jsonl)
--rubric ID --as USERNAME``: evaluate a policy against production (or ``--baseline``) through
the same door as the API (:func:`training.services.evaluations.start_evaluation`: the lead
rule, the rubric, the prompts and the sampling settings are checked there).

It runs in this process, on this machine's device (``CONCORD_GENERATION_DEVICE``, else CUDA
when there is one), with a progress bar; ``--enqueue`` hands it to a gpu worker instead and
prints the evaluation's id to follow on ``GET /api/v1/evaluations/{id}``. A prompt file holds
one JSON object per line: ``{"prompt": "..." or [chat messages], "context": [documents]}``.
"""

from pathlib import Path

import orjson
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from annotation.models import Rubric
from annotation.services.errors import ConcordError
from exports.models import DatasetVersion
from training.models import ModelVersion, PolicyVersion, RunStatus
from training.services.evaluation_cancel import cancel_evaluation
from training.services.evaluations import execute_evaluation, start_evaluation
from training.services.policy_gate import prompt_shortfall


def read_prompt_file(path: str) -> list:
    """The prompts of a JSONL file (blank lines skipped); a line that is not JSON is an error
    naming it. Each entry is checked by the service."""
    prompts = []
    try:
        lines = Path(path).read_bytes().splitlines()
    except OSError as unreadable:
        raise CommandError(f"cannot read {path}: {unreadable.strerror}") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            prompts.append(orjson.loads(line))
        except orjson.JSONDecodeError as bad:
            raise CommandError(f"{path}, line {number}: not JSON ({bad})") from None
    return prompts


class Command(BaseCommand):
    help = "Evaluate a policy against production: generate, then make the blind sprint."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("candidate", type=int, help="the policy version id to evaluate")
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--dataset", type=int, help="a dataset version: its test split")
        source.add_argument("--prompts", help="a JSONL file of prompts")
        parser.add_argument("--rubric", type=int, required=True, help="the sprint's rubric id")
        parser.add_argument("--as", dest="username", required=True, help="a lead, the actor")
        parser.add_argument("--baseline", type=int, help="default: the production version")
        parser.add_argument("--reward-model", type=int, help="for the automatic first look")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--max-new-tokens", type=int)
        parser.add_argument("--temperature", type=float)
        parser.add_argument("--top-p", type=float)
        parser.add_argument("--min-comparisons", type=int, help="the gate rule's")
        parser.add_argument("--lower-bound-above", type=float, help="the gate rule's")
        parser.add_argument("--name", help="the sprint's name")
        parser.add_argument("--enqueue", action="store_true", help="hand it to a gpu worker")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, candidate: int, **options) -> None:
        actor = get_user_model().objects.filter(username=options["username"]).first()
        if actor is None:
            raise CommandError(f"no user {options['username']!r}")
        sampling = {
            key: options[option]
            for key, option in (("max_new_tokens", "max_new_tokens"),
                                ("temperature", "temperature"), ("top_p", "top_p"))
            if options[option] is not None
        }  # fmt: skip
        gate = {
            key: options[key]
            for key in ("min_comparisons", "lower_bound_above")
            if options[key] is not None
        }
        try:
            evaluation = start_evaluation(
                _get(PolicyVersion, candidate, "policy"),
                actor=actor,
                rubric=Rubric.objects.filter(pk=options["rubric"]).first(),
                dataset=_get(DatasetVersion, options["dataset"], "dataset"),
                prompts=read_prompt_file(options["prompts"]) if options["prompts"] else None,
                prompts_file=Path(options["prompts"]).name if options["prompts"] else "",
                baseline=_get(PolicyVersion, options["baseline"], "baseline policy"),
                reward_model=_get(ModelVersion, options["reward_model"], "reward model"),
                sampling=sampling,
                seed=options["seed"],
                gate=gate,
                name=options["name"],
                enqueue=options["enqueue"],
            )
        except ConcordError as refused:
            raise CommandError(refused.detail) from None
        shortfall = prompt_shortfall(evaluation)
        if shortfall:
            self.stderr.write(self.style.WARNING(f"Warning: {shortfall}"))
        if options["enqueue"]:
            self.stdout.write(f"Evaluation {evaluation.pk} is queued for a gpu worker.")
            return
        self.stdout.write(
            f"Evaluation {evaluation.pk} started here (Ctrl-C cancels it; so does "
            f"POST /api/v1/evaluations/{evaluation.pk}/cancel)."
        )
        bar = tqdm(total=100, unit="%", disable=options["no_progress"], file=self.stderr._out)

        def show(fraction: float) -> None:
            bar.update(round(100 * fraction) - bar.n)

        try:
            done = execute_evaluation(evaluation.pk, on_progress=show)
        except KeyboardInterrupt:
            # Left running, it would hold its status until the stall sweep failed it.
            bar.close()
            cancel_evaluation(evaluation, actor=actor)
            raise CommandError(f"interrupted: evaluation {evaluation.pk} cancelled") from None
        bar.close()
        if done is not None and done.status == RunStatus.CANCELLED:
            raise CommandError(f"evaluation {evaluation.pk} was cancelled while it ran")
        if done is None or done.status != RunStatus.DONE:
            raise CommandError(f"evaluation failed: {done.error if done else 'not queued'}")
        self.stdout.write(self.style.SUCCESS(_summary(done)))


def _get(model, pk: int | None, what: str):
    if pk is None:
        return None
    found = model.objects.filter(pk=pk).first()
    if found is None:
        raise CommandError(f"no {what} {pk}")
    return found


def _summary(evaluation) -> str:
    generation = evaluation.generation
    sides = ", ".join(
        f"{side} {generation[side]['new_tokens']} tokens at "
        f"{generation[side]['tokens_per_s']:g} tokens/s"
        for side in ("candidate", "baseline")
    )
    automatic = evaluation.automatic or {}
    look = ""
    if "win_rate" in automatic:
        low, high = automatic["ci"]
        look = (
            f" {automatic['label']} prefers the candidate in {automatic['win_rate']:.3f} "
            f"[{low:.3f}, {high:.3f}] of {automatic['n']}."
        )
    return (
        f"Evaluation {evaluation.pk} done: sprint {evaluation.sprint.slug} (id "
        f"{evaluation.sprint_id}) with {generation['compared']} pairs "
        f"({generation['identical']} identical left out); {sides}.{look}"
    )
