"""The path converter of the API's object ids."""

from django.urls.converters import IntConverter

from annotation.services.json_limits import MAX_INTEGER


class ObjectIdConverter(IntConverter):
    """``<id:name>``: an id a database column can hold, at most a signed 64-bit integer. A
    larger one matches no URL, so it is a 404 as for any id that does not exist, where
    ``<int:…>`` handed it to the database (SQLite cannot bind it: a 500)."""

    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if number > MAX_INTEGER:
            raise ValueError(f"{value} is beyond a signed 64-bit integer")
        return number
