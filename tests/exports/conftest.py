import pytest
from celery import current_app


@pytest.fixture(autouse=True)
def own_data_directory(request, settings, tmp_path):
    """Each test writes its export files under its own data directory: dataset ids start again
    in every test, and a file left by another test must not pass for this one's. Tests with a
    real worker keep the run's directory, which the worker process shares."""
    if "celery_worker_process" not in request.fixturenames:
        settings.DATA_DIR = tmp_path / "data"


@pytest.fixture
def eager_celery():
    """Tasks run in the calling process, so an API test sees its export built; the real
    worker path has its own tests (test_export_worker.py)."""
    previous = current_app.conf.task_always_eager
    current_app.conf.task_always_eager = True
    yield
    current_app.conf.task_always_eager = previous
