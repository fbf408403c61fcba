"""The lead's policy pages, under /training/: the led policies by name with their stages, and
one page per policy with the evidence of its evaluation (the human win rate with its interval
and counts, the reward model's automatic win rate with its interval, the rule, the verdict and
its reasons, both datasets, links to the evaluation sprint and its leaderboard), the promote
form (an override reason asked for when the gate refuses), the rollback form when the policy
is in production, and the name's registry history with reasons.

Forms post back to the page (no script; the charts are server-drawn SVG). The work is in
:mod:`training.services.policy_gate` and :mod:`training.services.stages`, which check the lead
rule again; a refusal re-renders the page with its problems and status.
"""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_GET, require_http_methods

from annotation.charts import interval_chart
from annotation.services.errors import ConcordError
from training.api.access import LEAD_ONLY
from training.api.policies import led_policy
from training.models import ModelStage, PolicyVersion, RunStatus
from training.services.datasets import leads_any_sprint
from training.services.policy_gate import (
    current_production,
    gate_verdict,
    is_first_production,
    latest_evaluation,
    promote_policy,
)
from training.services.policy_registry import policies_led_by
from training.services.stages import events_led_by, rollback, rollback_target


@login_required
@require_GET
def policy_list(request: HttpRequest) -> HttpResponse:
    if not leads_any_sprint(request.user):
        raise PermissionDenied(LEAD_ONLY)
    names: dict[str, list[PolicyVersion]] = {}
    for policy in policies_led_by(request.user).select_related("run").order_by("name", "-version"):
        names.setdefault(policy.name, []).append(policy)
    return render(request, "training/policies.html", {"names": names})


def _chosen_evaluation(request: HttpRequest, policy: PolicyVersion, production):
    """The evaluation the page shows: ``?evaluation=<id>`` of this policy, else the newest
    done one against the current production version, else the newest."""
    asked = request.GET.get("evaluation") or request.POST.get("evaluation") or ""
    if asked:
        if not (asked.isascii() and asked.isdigit()):
            raise Http404("No such evaluation.")
        found = policy.evaluations.filter(pk=int(asked)).first()
        if found is None:
            raise Http404("No such evaluation.")
        return found
    if production is not None:
        found = latest_evaluation(policy, production)
        if found is not None:
            return found
    return policy.evaluations.order_by("-created_at", "-pk").first()


def _win_rate_chart(verdict: dict):
    points = []
    human = verdict["human"]
    if human["win_rate"] is not None:
        points.append(("Human (consensus)", human["win_rate"], *human["ci"]))
    automatic = verdict.get("automatic") or {}
    if automatic.get("win_rate") is not None:
        low, high = (automatic.get("ci") or [None, None])[:2]
        points.append(("Reward model (automatic)", automatic["win_rate"], low, high))
    if not points:
        return None
    return interval_chart("Candidate's win rate over production", "win rate", points, span=(0, 1))


def _context(request: HttpRequest, policy: PolicyVersion, errors=None, form=None) -> dict:
    production = current_production(policy)
    evaluation = _chosen_evaluation(request, policy, production)
    verdict = gate_verdict(evaluation) if evaluation is not None else None
    first_production = (
        production is None and policy.stage != ModelStage.PRODUCTION and is_first_production(policy)
    )
    target, refusal = None, ""
    if policy.stage == ModelStage.PRODUCTION:
        try:
            target = rollback_target(policy, request.user)
        except ConcordError as refused:
            refusal = refused.detail
    gate_allows = bool(verdict and verdict["allowed"] and evaluation.baseline_id == getattr(
        production, "pk", None))  # fmt: skip
    return {
        "policy": policy,
        "production": production,
        # A name is not a team's own: another team's production version is named, not linked.
        "production_led": production is not None
        and policies_led_by(request.user).filter(pk=production.pk).exists(),
        "evaluation": evaluation,
        "evaluations": list(policy.evaluations.select_related("baseline").order_by("-created_at")),
        "verdict": verdict,
        "chart": _win_rate_chart(verdict) if verdict else None,
        "first_production": first_production,
        "gate_allows": gate_allows or first_production,
        "can_promote": policy.stage != ModelStage.PRODUCTION,
        "rollback_target": target,
        "rollback_refusal": refusal,
        "history": _history(request, policy),
        "errors": errors or [],
        "form": form or {},
        "done": RunStatus.DONE,
    }


def _history(request: HttpRequest, policy: PolicyVersion) -> list:
    """The name's events the viewer may see (only those of versions they lead: a name is not a
    team's own), each with ``previous_label``, the version it replaced as ``v<N>`` where the
    viewer leads that version too (else its id)."""
    events = list(
        events_led_by(request.user)
        .filter(registry="policy", name=policy.name)
        .order_by("-created_at", "-pk")
    )
    ids = {event.previous_id for event in events if event.previous_id is not None}
    versions = dict(policies_led_by(request.user).filter(pk__in=ids).values_list("pk", "version"))
    for event in events:
        known = versions.get(event.previous_id)
        event.previous_label = f"v{known}" if known is not None else event.previous_id
    return events


def _act(request: HttpRequest, policy: PolicyVersion) -> HttpResponse:
    action = request.POST.get("action", "")
    form = {"override_reason": request.POST.get("override_reason", ""),
            "reason": request.POST.get("reason", "")}  # fmt: skip
    try:
        if action == "promote":
            production = current_production(policy)
            evaluation = _chosen_evaluation(request, policy, production)
            promote_policy(
                policy,
                actor=request.user,
                evaluation=evaluation if production is not None else None,
                override_reason=form["override_reason"],
            )
            shown = policy
        elif action == "rollback":
            shown = rollback(policy, actor=request.user, reason=form["reason"])
        else:
            raise ConcordError("Either promote or rollback.", field="action")
    except ConcordError as refused:
        if refused.status in (403, 404):
            raise (PermissionDenied if refused.status == 403 else Http404)(refused.detail) from None
        policy.refresh_from_db()
        context = _context(request, policy, refused.problems, form)
        return render(request, "training/policy_detail.html", context, status=refused.status)
    return redirect(reverse("training-policy", args=[shown.pk]))


@login_required
@require_http_methods(["GET", "POST"])
def policy_detail(request: HttpRequest, policy_id: int) -> HttpResponse:
    policy = led_policy(request.user, policy_id)
    if request.method == "POST":
        return _act(request, policy)
    return render(request, "training/policy_detail.html", _context(request, policy))


urlpatterns = [
    path("policies", policy_list, name="training-policies"),
    path("policies/<id:policy_id>", policy_detail, name="training-policy"),
]
