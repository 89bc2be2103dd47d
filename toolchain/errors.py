"""Errors the CLI turns into a clear message and a non-zero exit code."""


class TinymlError(Exception):
    """A user-facing error: what went wrong, where, and what was expected.

    The CLI prints the message (no traceback) and exits with ``exit_code``.
    """

    exit_code = 1

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class UnsupportedModelError(TinymlError):
    """The model cannot be compiled (unsupported op, float model, dynamic shape, corrupt file)."""

    exit_code = 2


class BadInputError(TinymlError):
    """An input file or argument is malformed."""

    exit_code = 2
