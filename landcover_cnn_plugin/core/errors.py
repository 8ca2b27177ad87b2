"""Errors that reach the user as a message, not as a traceback."""

from __future__ import annotations

from collections.abc import Callable


class UserInputError(ValueError):
    """Bad input that the user can fix.

    Parameters
    ----------
    message : str
        What is wrong and what to do about it, as shown to the user.
    parameter : str, optional
        Name of the Processing parameter (``INPUT``, ``MODEL``...) or command-line
        option the problem belongs to; it is put in front of the message.
    """

    def __init__(self, message: str, parameter: str | None = None) -> None:
        self.parameter = parameter
        self.message = message
        super().__init__(f"{parameter}: {message}" if parameter else message)


class MissingDependencyError(RuntimeError):
    """A Python package the worker needs is not importable by its interpreter."""


class JobCanceled(RuntimeError):
    """The job was canceled by the user."""


def raise_if_canceled(is_canceled: Callable[[], bool] | None) -> None:
    """Raise :class:`JobCanceled` when ``is_canceled`` (polled in every loop of long work) says so."""
    if is_canceled is not None and is_canceled():
        raise JobCanceled("canceled")
