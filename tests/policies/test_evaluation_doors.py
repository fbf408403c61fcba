"""The other doors of evaluations: ``manage.py evaluate_policy`` runs one in this process with
a progress bar from a prompt file (or a dataset's test split), through the same checks as the
API; the read-only admin shows a lead their evaluations, linked to the blind sprint, and
nothing to another team's lead."""

import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from annotation.models import SprintMember, SprintRole
from training.models import PolicyEvaluation

pytestmark = pytest.mark.django_db

ADMIN = "/admin/training/policyevaluation/"


def run_command(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("evaluate_policy", *map(str, args), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_the_command_evaluates_from_a_prompt_file_with_a_progress_bar(
    grounded, policies, lead, rubric, tmp_path, settings
):
    settings.CONCORD_GATE_MIN_COMPARISONS = 2
    _sprint, _dataset, items = grounded
    candidate, baseline = policies
    prompts = tmp_path / "held-out.jsonl"
    prompts.write_text(
        "".join(json.dumps({"prompt": i.prompt, "context": i.context}) + "\n" for i in items[:3])
        + "\n"
    )
    out, err = run_command(candidate.pk, "--prompts", prompts, "--rubric", rubric.pk,
                           "--as", "lead", "--seed", 3, "--max-new-tokens", 6,
                           "--min-comparisons", 2)  # fmt: skip
    evaluation = PolicyEvaluation.objects.get()
    assert evaluation.status == "done" and evaluation.created_by == lead
    assert evaluation.baseline == baseline and evaluation.seed == 3
    assert evaluation.sampling["max_new_tokens"] == 6 and evaluation.gate["min_comparisons"] == 2
    assert evaluation.prompt_source == {"file": "held-out.jsonl", "given": 3}
    assert f"Evaluation {evaluation.pk} started here (Ctrl-C cancels it" in out
    assert f"Evaluation {evaluation.pk} done: sprint {evaluation.sprint.slug}" in out
    assert "tokens/s" in out and "100%" in err
    assert "Warning" not in err, "3 prompts can meet a rule of 2 comparisons"


def test_the_command_warns_when_the_prompts_cannot_meet_the_rule(
    grounded, policies, lead, rubric, tmp_path
):
    _sprint, _dataset, items = grounded
    candidate, _baseline = policies
    prompts = tmp_path / "few.jsonl"
    prompts.write_text("".join(json.dumps({"prompt": i.prompt}) + "\n" for i in items[:2]))
    out, err = run_command(candidate.pk, "--prompts", prompts, "--rubric", rubric.pk,
                           "--as", "lead", "--enqueue")  # fmt: skip
    assert "is queued for a gpu worker" in out
    assert "Warning: 2 prompt(s) give at most 2 human comparison(s)" in err
    assert "at least 30" in err


@pytest.mark.parametrize("how", ["ctrl-c", "cancelled elsewhere"])
def test_the_command_says_when_its_evaluation_is_cancelled(
    grounded, policies, lead, rubric, tmp_path, monkeypatch, how
):
    """Ctrl-C cancels the evaluation the command runs (left running, it would wait for the
    stall sweep); a cancel from the API meanwhile is said as such, not as a failure."""
    from training.management.commands import evaluate_policy
    from training.services.evaluation_cancel import cancel_evaluation

    real_execute = evaluate_policy.execute_evaluation

    def interrupted(evaluation_id, on_progress):
        def first_batch(fraction):
            if how == "ctrl-c":
                raise KeyboardInterrupt
            cancel_evaluation(PolicyEvaluation.objects.get(pk=evaluation_id), actor=lead)

        return real_execute(evaluation_id, on_progress=first_batch)

    monkeypatch.setattr(evaluate_policy, "execute_evaluation", interrupted)
    _sprint, dataset, _items = grounded
    candidate, _baseline = policies
    expected = "interrupted: evaluation" if how == "ctrl-c" else "was cancelled while it ran"
    with pytest.raises(CommandError, match=expected):
        run_command(candidate.pk, "--dataset", dataset.pk, "--rubric", rubric.pk,
                    "--as", "lead", "--max-new-tokens", 4, "--no-progress")  # fmt: skip
    evaluation = PolicyEvaluation.objects.get()
    assert evaluation.status == "cancelled" and evaluation.sprint_id is None


def test_the_command_refuses_what_the_api_refuses(grounded, policies, annotator, lead, rubric,
                                                 tmp_path):  # fmt: skip
    _sprint, dataset, _items = grounded
    candidate, _baseline = policies
    common = ("--rubric", rubric.pk, "--dataset", dataset.pk)
    with pytest.raises(CommandError, match="lead role"):
        run_command(candidate.pk, *common, "--as", "ann1")
    with pytest.raises(CommandError, match=r"sampling\.top_p"):
        run_command(candidate.pk, *common, "--as", "lead", "--top-p", 0)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "fine"}\nnot json\n')
    with pytest.raises(CommandError, match="line 2"):
        run_command(candidate.pk, "--prompts", bad, "--rubric", rubric.pk, "--as", "lead")
    with pytest.raises(CommandError, match="no policy 999999"):
        run_command(999_999, *common, "--as", "lead")
    assert not PolicyEvaluation.objects.exists()


def test_the_admin_shows_a_lead_their_evaluations_read_only(
    grounded, policies, lead, rubric, make_user, other_sprint
):
    candidate, _baseline = policies
    run_command(candidate.pk, "--dataset", grounded[1].pk, "--rubric", rubric.pk,
                "--as", "lead", "--max-new-tokens", 4, "--no-progress")  # fmt: skip
    evaluation = PolicyEvaluation.objects.get()
    browser = Client()
    browser.force_login(lead)
    listing = browser.get(ADMIN)
    assert listing.status_code == 200 and f"{ADMIN}{evaluation.pk}/change/" in listing.text
    page = browser.get(f"{ADMIN}{evaluation.pk}/change/")
    assert page.status_code == 200
    assert f"/admin/annotation/sprint/{evaluation.sprint_id}/change/" in page.text
    assert evaluation.sprint.slug in page.text and "tokens_per_s" in page.text
    assert 'name="_save"' not in page.text, "nothing to change"
    assert browser.post(f"{ADMIN}{evaluation.pk}/change/", {}).status_code == 403

    stranger = make_user("lead-b", is_staff=True)
    SprintMember.objects.create(sprint=other_sprint, user=stranger, role=SprintRole.LEAD)
    other = Client()
    other.force_login(stranger)
    assert f"{ADMIN}{evaluation.pk}/change/" not in other.get(ADMIN).text
    assert other.get(f"{ADMIN}{evaluation.pk}/change/").status_code in (302, 404)
