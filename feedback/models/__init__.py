from feedback.models.events import ErasedEvent, FeedbackEvent, SampledItem
from feedback.models.preferences import PreferenceKind, ProductionPreference
from feedback.models.samples import FeedbackSample, SampleStatus
from feedback.models.sources import FeedbackSource, IngestToken

__all__ = [
    "ErasedEvent",
    "FeedbackEvent",
    "FeedbackSample",
    "FeedbackSource",
    "IngestToken",
    "PreferenceKind",
    "ProductionPreference",
    "SampleStatus",
    "SampledItem",
]
