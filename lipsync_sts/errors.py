"""Errors a user can act on.

A :class:`UserInputError` carries one sentence naming the input and what to do; the CLI prints it
without a traceback and exits non-zero. Anything else is a bug and keeps its traceback.
"""


class UserInputError(Exception):
    """Bad input that the user can fix (missing file, unknown language, no audio track...)."""

    exit_code = 2
