"""``python manage.py train_policy <dataset id> --base-model M --as USER [--lora ...]``: fine-tune
a policy with DPO in this process, with a progress bar, through the same door as the API and
the admin (the run is recorded like any other and, when done, registered as a candidate policy
version). ``--as`` is the lead the run belongs to: they must lead every sprint of the dataset,
and the base model is checked for them. Ctrl-C cancels the run.
"""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from exports.models import DatasetVersion
from training.management.run_progress_bar import execute_with_progress, start_in_process
from training.models import RunKind
from training.services.datasets import datasets_led_by
from training.services.policy_config import LOSS_TYPES

# Command-line flag -> DPO option.
FLAGS = {
    "epochs": int,
    "batch_size": int,
    "gradient_accumulation": int,
    "learning_rate": float,
    "beta": float,
    "max_length": int,
    "warmup_ratio": float,
    "weight_decay": float,
    "seed": int,
    "lora_r": int,
    "lora_alpha": int,
    "lora_dropout": float,
}
SWITCHES = ("lora", "merge_adapter", "gradient_checkpointing")


def describe(evaluation: dict) -> str:
    return (
        f"epoch {evaluation['epoch']}: held-out margin {evaluation['margin']:.3f}, "
        f"accuracy {evaluation['accuracy']:.3f}, loss {evaluation['loss']:.4f}"
    )


class Command(BaseCommand):
    help = "Fine-tune a policy with DPO from a preference dataset version, in this process."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("dataset", type=int, help="id of a done preference dataset version")
        parser.add_argument(
            "--base-model",
            required=True,
            help="policy:<id>, or a name or path under CONCORD_BASE_MODEL_ROOTS",
        )
        parser.add_argument("--name", default=None, help="registry name of the policy")
        parser.add_argument(
            "--as", dest="username", required=True, help="the lead the run belongs to"
        )
        for option, kind in FLAGS.items():
            parser.add_argument(f"--{option.replace('_', '-')}", type=kind, dest=option)
        parser.add_argument("--loss-type", choices=LOSS_TYPES, dest="loss_type")
        parser.add_argument("--lora", action="store_true", help="train a LoRA adapter (peft)")
        parser.add_argument(
            "--merge-adapter", action="store_true", help="with --lora: save the merged model"
        )
        parser.add_argument("--gradient-checkpointing", action="store_true")
        parser.add_argument("--no-bf16", action="store_true", help="no bf16 on CUDA")
        parser.add_argument("--device", default=None, help="cpu, cuda or mps")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, dataset: int, **options) -> None:
        User = get_user_model()
        try:
            actor = User.objects.get(username=options["username"])
        except User.DoesNotExist as exc:
            raise CommandError(f"no user {options['username']!r}") from exc
        source = DatasetVersion.objects.filter(pk=dataset).first()
        if source is None or not datasets_led_by(actor).filter(pk=dataset).exists():
            raise CommandError(
                f"no dataset version {dataset} led by {actor.get_username()} "
                "(every one of its sprints)"
            )
        policy_options = {key: options[key] for key in FLAGS if options[key] is not None}
        policy_options.update({key: True for key in SWITCHES if options[key]})
        if options["loss_type"]:
            policy_options["loss_type"] = options["loss_type"]
        run = start_in_process(self, source, actor, options, policy_options, kind=RunKind.DPO)
        run = execute_with_progress(self, run, describe_eval=describe, hide=options["no_progress"])
        policy = run.policy_version
        base, final = run.metrics.get("base_eval"), run.metrics.get("final_eval")
        held_out = "no held-out pairs"
        if base and final:
            held_out = (
                f"held-out margin {base['margin']:.3f} -> {final['margin']:.3f}, "
                f"accuracy {base['accuracy']:.3f} -> {final['accuracy']:.3f} (base -> trained)"
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"Done: {policy.label} (candidate), policy version id {policy.pk}, training run "
                f"{run.pk}, {held_out}, artifacts in {run.artifacts_dir}"
            )
        )
