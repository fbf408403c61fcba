"""Cancelling an evaluation: from the API and the admin, by a lead of the candidate's dataset
only. A queued one is never started; a running one stops at its worker's next progress write
and makes no blind sprint; a finished one is a 409 in the one error shape."""

import pytest
from django.test import Client

from annotation.models import AuditEvent, Sprint, SprintMember, SprintRole
from annotation.services.errors import ConcordError
from tests.policies.evaluation_fixtures import EVALUATIONS
from training.models import PolicyEvaluation
from training.services.evaluation_cancel import cancel_evaluation
from training.services.evaluations import execute_evaluation, start_evaluation

pytestmark = pytest.mark.django_db

ADMIN = "/admin/training/policyevaluation/"


@pytest.fixture
def queued(grounded, policies, lead, rubric):
    _sprint, dataset, _items = grounded
    candidate, _baseline = policies
    return start_evaluation(candidate, actor=lead, rubric=rubric, dataset=dataset,
                            sampling={"max_new_tokens": 4}, enqueue=False)  # fmt: skip


def test_a_queued_evaluation_cancelled_through_the_api_is_never_started(
    queued, lead, api_client_for
):
    client = api_client_for(lead)
    answer = client.post(f"{EVALUATIONS}/{queued.pk}/cancel")
    assert answer.status_code == 200, answer.json()
    assert answer.json()["status"] == "cancelled" and answer.json()["finished_at"]
    event = AuditEvent.objects.get(action="policy_evaluation.cancelled")
    assert event.actor == lead
    assert event.changes == {"status": "cancelled", "was": "queued", "progress": 0.0}
    assert execute_evaluation(queued.pk) is None, "a worker that takes the job finds nothing"
    assert PolicyEvaluation.objects.get(pk=queued.pk).status == "cancelled"
    assert not Sprint.objects.filter(slug__startswith="blind-eval-").exists()

    again = client.post(f"{EVALUATIONS}/{queued.pk}/cancel")
    assert again.status_code == 409
    assert again.json()["detail"] == f"Evaluation {queued.pk} has already finished (cancelled)."
    assert AuditEvent.objects.filter(action="policy_evaluation.cancelled").count() == 1


def test_a_running_evaluation_stops_at_its_next_progress_write_and_makes_no_sprint(
    queued, lead, settings
):
    settings.CONCORD_TRAINING_POLL_SECONDS = 0  # every batch writes its progress
    PolicyEvaluation.objects.filter(pk=queued.pk).update(
        sampling={**queued.sampling, "batch_size": 1}  # one prompt a batch: stop mid-side
    )
    asked: list[float] = []

    def cancel_on_first_batch(fraction: float) -> None:
        if not asked:  # what a lead's click does while the worker generates
            cancel_evaluation(PolicyEvaluation.objects.get(pk=queued.pk), actor=lead)
        asked.append(fraction)

    stopped = execute_evaluation(queued.pk, on_progress=cancel_on_first_batch)
    assert stopped.status == "cancelled" and stopped.error == ""
    assert stopped.sprint_id is None and stopped.generation == {}
    assert len(asked) == 1 and asked[0] < 0.45, "it stopped after the batch it was cancelled in"
    assert not Sprint.objects.filter(slug=f"blind-eval-{queued.pk}").exists()
    assert not AuditEvent.objects.filter(action="policy_evaluation.done").exists()


def test_a_cancel_between_the_two_sides_stops_before_the_baseline_is_loaded(
    queued, lead, monkeypatch
):
    from training.services import evaluations

    sides: list[str] = []
    real_generate = evaluations.generate

    def generate_then_cancel(policy, *args, **kwargs):
        sides.append(policy.label)
        result = real_generate(policy, *args, **kwargs)
        # After the candidate's last progress write: only the check before the next side sees it.
        cancel_evaluation(PolicyEvaluation.objects.get(pk=queued.pk), actor=lead)
        return result

    monkeypatch.setattr(evaluations, "generate", generate_then_cancel)
    stopped = execute_evaluation(queued.pk)
    assert stopped.status == "cancelled" and stopped.sprint_id is None
    assert sides == [queued.candidate.label], "the baseline was never generated"


@pytest.mark.parametrize("end", ["done", "failed"])
def test_a_finished_evaluation_cannot_be_cancelled(queued, lead, api_client_for, end):
    if end == "done":
        assert execute_evaluation(queued.pk).status == "done"
    else:  # what the job sweep does to one whose worker was lost twice
        from training.services.evaluations import fail_evaluation

        assert fail_evaluation(queued.pk, "The worker was lost twice.")
    answer = api_client_for(lead).post(f"{EVALUATIONS}/{queued.pk}/cancel")
    assert answer.status_code == 409
    assert answer.json()["detail"] == f"Evaluation {queued.pk} has already finished ({end})."
    assert PolicyEvaluation.objects.get(pk=queued.pk).status == end
    assert not AuditEvent.objects.filter(action="policy_evaluation.cancelled").exists()


def test_an_unknown_evaluation_is_a_404_and_only_post_cancels(queued, lead, api_client_for):
    client = api_client_for(lead)
    missing = client.post(f"{EVALUATIONS}/999999/cancel")
    assert missing.status_code == 404 and missing.json()["detail"]
    assert client.get(f"{EVALUATIONS}/{queued.pk}/cancel").status_code == 405
    assert PolicyEvaluation.objects.get(pk=queued.pk).status == "queued"


def test_only_a_lead_of_the_candidates_dataset_cancels(
    queued, annotator, make_user, other_sprint, api_client_for
):
    stranger = make_user("lead-b")
    SprintMember.objects.create(sprint=other_sprint, user=stranger, role=SprintRole.LEAD)
    assert api_client_for(stranger).post(f"{EVALUATIONS}/{queued.pk}/cancel").status_code == 404
    member = api_client_for(annotator).post(f"{EVALUATIONS}/{queued.pk}/cancel")
    assert member.status_code == 403
    # The service checks the role too, whoever calls it.
    with pytest.raises(ConcordError) as refused:
        cancel_evaluation(queued, actor=stranger)
    assert refused.value.status == 404 and refused.value.detail == "evaluation: No such evaluation."
    with pytest.raises(ConcordError) as refused:
        cancel_evaluation(queued, actor=annotator)
    assert refused.value.status == 403 and "lead role" in refused.value.detail
    assert PolicyEvaluation.objects.get(pk=queued.pk).status == "queued"


def test_a_lead_cancels_from_the_admin(queued, lead):
    browser = Client()
    browser.force_login(lead)
    assert "Cancel the selected evaluations" in browser.get(ADMIN).text
    answer = browser.post(
        ADMIN, {"action": "cancel_evaluations", "_selected_action": [queued.pk]}, follow=True
    )
    assert "Cancelled 1 evaluation(s)." in answer.text
    assert PolicyEvaluation.objects.get(pk=queued.pk).status == "cancelled"
    again = browser.post(
        ADMIN, {"action": "cancel_evaluations", "_selected_action": [queued.pk]}, follow=True
    )
    assert "has already finished (cancelled)" in again.text
