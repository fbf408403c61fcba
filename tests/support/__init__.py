"""Test infrastructure: what the machine offers (PostgreSQL, Redis, Chromium), the CI policy
that nothing may skip, and a real Celery worker process."""
