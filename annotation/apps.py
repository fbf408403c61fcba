from django.apps import AppConfig


class AnnotationConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "annotation"

    def ready(self) -> None:
        from django.contrib import admin
        from django.urls import register_converter

        from annotation.api.converters import ObjectIdConverter

        # Before any URLconf is read: the API's paths name their ids <id:…>.
        register_converter(ObjectIdConverter, "id")

        from annotation import signals
        from annotation.admin.lookups import allow_list_every_admin

        signals.connect()
        _register_navigation()
        # The admin's autodiscovery ran in its own ready(), earlier in INSTALLED_APPS.
        allow_list_every_admin(admin.site)


def _register_navigation() -> None:
    """annotation's own tools; the apps above register theirs (navigation's docstring)."""
    from annotation.services.navigation import ToolLink, register_tool_link

    register_tool_link(
        ToolLink(
            "API docs",
            "api-docs",
            lambda user: user.is_authenticated,
            "the REST API, to try in the browser",
            position=90,
        )
    )
    register_tool_link(
        ToolLink("Admin", "admin:index", lambda user: user.is_staff, "sprints, rubrics, items", 95)
    )
