"""Placeholder: filled in by the reviews work."""

urlpatterns: list = []
