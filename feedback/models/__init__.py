from feedback.models.events import FeedbackEvent, SampledItem
from feedback.models.preferences import PreferenceKind, ProductionPreference
from feedback.models.samples import FeedbackSample, SampleStatus
from feedback.models.sources import FeedbackSource, IngestToken

__all__ = [
    "FeedbackEvent",
    "FeedbackSample",
    "FeedbackSource",
    "IngestToken",
    "PreferenceKind",
    "ProductionPreference",
    "SampleStatus",
    "SampledItem",
]
