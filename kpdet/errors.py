"""User-facing errors: the CLI prints their message without a traceback."""


class KpdetError(Exception):
    """An error caused by the user's input (a file, a config, an argument)."""


class DataError(KpdetError, ValueError):
    """A dataset or prediction file that does not follow the expected format.

    The message always names the file, the record (annotation/image id) and the field.
    """

    def __init__(self, source: str, message: str, *, record: str | None = None, field: str | None = None):
        self.source, self.record, self.field = source, record, field
        where = source
        if record is not None:
            where += f", {record}"
        if field is not None:
            where += f", field '{field}'"
        super().__init__(f"{where}: {message}")


class ConfigError(KpdetError, ValueError):
    """A config with a wrong type, an unknown key or an inconsistent value."""
