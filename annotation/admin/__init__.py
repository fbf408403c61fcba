"""Django admin for leads: rubrics, sprints and their members, imports, and read-only views of
items, assignments, judgments and the audit log.

One module per area; importing them here registers them with the default admin site, which is
what ``admin.autodiscover`` expects of ``annotation.admin``.
"""

from annotation.admin import audit, items, judgments, lockouts, rubrics, sprints, users

__all__ = ["audit", "items", "judgments", "lockouts", "rubrics", "sprints", "users"]
