"""Feedback: a live product's signals in, redacted and retained by policy (issue 14)."""
