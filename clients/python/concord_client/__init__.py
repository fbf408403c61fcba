"""A small typed client for Concord's REST API. See :class:`concord_client.Concord`, and
:class:`concord_client.FeedbackSender` for a product's backend sending feedback events."""

from concord_client.client import Concord
from concord_client.errors import ChecksumMismatch, ConcordAPIError
from concord_client.feedback import FeedbackIncomplete, FeedbackSender, FeedbackSummary

__all__ = [
    "ChecksumMismatch",
    "Concord",
    "ConcordAPIError",
    "FeedbackIncomplete",
    "FeedbackSender",
    "FeedbackSummary",
]
__version__ = "0.1.0"
