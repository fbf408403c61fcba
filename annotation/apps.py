from django.apps import AppConfig


class AnnotationConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "annotation"

    def ready(self) -> None:
        from django.contrib import admin

        from annotation import signals
        from annotation.admin.lookups import allow_list_every_admin

        signals.connect()
        # The admin's autodiscovery ran in its own ready(), earlier in INSTALLED_APPS.
        allow_list_every_admin(admin.site)
