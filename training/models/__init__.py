"""The training app's models: reward-model runs and versions (:mod:`.reward`), and policies,
their evaluations and the registries' stage events (:mod:`.policy`)."""

from training.models.policy import (
    PolicyEvaluation,
    PolicyVersion,
    RegistryEvent,
    RegistryKind,
)
from training.models.reward import (
    FINISHED_STATUSES,
    ModelStage,
    ModelVersion,
    RunKind,
    RunStatus,
    SelectionRun,
    TrainingRun,
)

__all__ = [
    "FINISHED_STATUSES",
    "ModelStage",
    "ModelVersion",
    "PolicyEvaluation",
    "PolicyVersion",
    "RegistryEvent",
    "RegistryKind",
    "RunKind",
    "RunStatus",
    "SelectionRun",
    "TrainingRun",
]
