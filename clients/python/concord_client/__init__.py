"""A small typed client for Concord's REST API. See :class:`concord_client.Concord`."""

from concord_client.client import ChecksumMismatch, Concord, ConcordAPIError

__all__ = ["ChecksumMismatch", "Concord", "ConcordAPIError"]
__version__ = "0.1.0"
