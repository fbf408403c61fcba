"""``python manage.py rollback (--policy NAME | --reward-model NAME) --reason TEXT --as USERNAME``:
return production of a name to the version that held it before, as that lead (the rollback of
the API, the page and the admin: :func:`training.services.stages.rollback`)."""

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotation.services.errors import ConcordError
from training.services.stages import POLICY, REWARD, production_of, rollback


def acting_user(username: str) -> AbstractBaseUser:
    """The active user ``--as`` names, or a CommandError."""
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise CommandError(f"no active user {username!r}")
    return user


class Command(BaseCommand):
    help = "Roll production of a policy or reward model back to the version before it."

    def add_arguments(self, parser: CommandParser) -> None:
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--policy", metavar="NAME", help="a policy's name")
        which.add_argument("--reward-model", metavar="NAME", help="a reward model's name")
        parser.add_argument("--reason", required=True, help="why (kept with the event)")
        parser.add_argument("--as", dest="username", required=True, help="the lead who rolls back")

    def handle(self, *args, **options) -> None:
        actor = acting_user(options["username"])
        registry, name = (
            (POLICY, options["policy"]) if options["policy"] else (REWARD, options["reward_model"])
        )
        try:
            current = production_of(registry, name, actor)
            target = rollback(current, actor=actor, reason=options["reason"])
        except ConcordError as refused:
            raise CommandError(refused.detail) from None
        self.stdout.write(
            f"{name}: production is v{target.version} again (was v{current.version})."
        )
