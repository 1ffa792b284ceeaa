"""The one base class for everything a user can get wrong.

A ``UserError`` is a bad file, field or value that the user can fix; its message names the input and the
reason in words. Entry points turn it into a one-line message (CLI exit 2, UI warning, HTTP 4xx). Any
other exception is a bug in the toolkit: a 500 with a log line, never "bad request".
"""

from __future__ import annotations


class UserError(ValueError):
    """Bad input the user can fix. ``field`` names the request field, flag or file it concerns."""

    def __init__(self, message: str = "", field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
