"""``python manage.py promote_policy <id> [--evaluation ID] [--override-reason TEXT] --as
USERNAME``: promote a policy version to production through the gate, as that lead
(:func:`training.services.policy_gate.promote_policy`); a refusal prints the gate's reasons."""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotation.services.errors import ConcordError
from training.management.commands.rollback import acting_user
from training.models import PolicyEvaluation, PolicyVersion
from training.services.policy_gate import promote_policy


class Command(BaseCommand):
    help = "Promote a policy version to production through the gate."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("policy", type=int, help="the policy version's id")
        parser.add_argument(
            "--evaluation",
            type=int,
            help="the evaluation the gate decides on (default: the newest done one against "
            "production)",
        )
        parser.add_argument(
            "--override-reason", default="", help="promote although the gate refuses (audited)"
        )
        parser.add_argument("--as", dest="username", required=True, help="the lead who promotes")

    def handle(self, *args, **options) -> None:
        actor = acting_user(options["username"])
        policy = PolicyVersion.objects.filter(pk=options["policy"]).first()
        evaluation = None
        try:
            if policy is None:
                raise ConcordError(f"No policy {options['policy']}.", status=404)
            if options["evaluation"] is not None:
                evaluation = PolicyEvaluation.objects.filter(
                    pk=options["evaluation"], candidate=policy
                ).first()
                if evaluation is None:
                    raise ConcordError("No such evaluation of this policy.", field="evaluation")
            promote_policy(
                policy,
                actor=actor,
                evaluation=evaluation,
                override_reason=options["override_reason"],
            )
        except ConcordError as refused:
            lines = ["Refused:"] + [f"  - {problem['message']}" for problem in refused.problems]
            raise CommandError("\n".join(lines)) from None
        policy.refresh_from_db()
        self.stdout.write(f"{policy.label} is {policy.stage}.")
