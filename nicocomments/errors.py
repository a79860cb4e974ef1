"""Expected, user-facing failures and the exit codes they map to.

Library code raises a `NicoError` subclass; only the CLI turns it into ``Error: …`` on stderr
and an exit code. Anything that is not a `NicoError` is a bug.
"""

from __future__ import annotations

import copy
from enum import IntEnum
from typing import Any, Self


class ExitStatus(IntEnum):
    OK = 0
    BUG = 1  # an unexpected error: a bug in nicocomments
    BAD_INPUT = 2  # malformed id, bad option, unreadable file (click also uses 2 for usage)
    AUTH = 3  # not logged in, wrong password or code, session expired
    REFUSED = 4  # not found, deleted, private, refused by the server
    SERVER = 5  # server unavailable, rate limited past patience, or answered garbage
    NETWORK = 6  # connection failed, timed out or broke off
    DATABASE = 7  # database newer than this program, locked, or unreadable
    INTERRUPTED = 130  # Ctrl-C
    CLOSED_PIPE = 141  # the reader of stdout went away (| head): 128 + SIGPIPE, as other tools


class NicoError(Exception):
    """An expected failure with a message meant for the user.

    What a caller needs to act on is a typed field, never a piece of the text: the answer's HTTP
    ``status``, the server's own ``code`` (a resultcode, an errorCode or a reasonCode), the
    ``thread_id`` and ``video_id`` it is about. ``where`` (what it happened to: a file) and
    ``hint`` (what to do about it) frame the message when it is shown; `but` adds them (or any
    field) to a copy of the same kind of error, so its exit status never changes on the way.

    >>> str(BadInput("line 3 is not JSON", where="cannot import a.jsonl", hint="nothing stored"))
    'cannot import a.jsonl: line 3 is not JSON; nothing stored'
    """

    exit_status: ExitStatus = ExitStatus.BUG

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | int | None = None,
        thread_id: str | None = None,
        video_id: str | None = None,
        where: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.thread_id = thread_id
        self.video_id = video_id
        self.where = where
        self.hint = hint

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        return f"{text}; {self.hint}" if self.hint else text

    def but(self, **fields: Any) -> Self:
        """A copy of this error (same class, same exit status) with ``fields`` replaced."""
        error = copy.copy(self)
        for name, value in fields.items():
            if not hasattr(error, name):
                raise TypeError(f"{type(self).__name__} has no field {name!r}")
            setattr(error, name, value)
        return error


class BadInput(NicoError):
    exit_status = ExitStatus.BAD_INPUT


def missing_extra(what: str, package: str, extra: str) -> BadInput:
    """The error for an optional library that is not installed, with both ways to add it: from
    an index (``nicocomments[extra]``) and from a checkout (``.[extra]``)."""
    return BadInput(
        f"{what} needs {package}: pip install 'nicocomments[{extra}]' "
        f"(from a checkout of nicocomments: pip install '.[{extra}]')"
    )


class AuthError(NicoError):
    exit_status = ExitStatus.AUTH


class LoginRequired(AuthError):
    """The server wants a logged-in session for this."""


class LoginFailed(AuthError):
    """Wrong e-mail or password, or a wrong one-time code."""


class PremiumRequired(AuthError):
    """Logged in, but the account may not do this (past logs on the old site)."""


class SessionExpired(AuthError):
    """The stored session stopped working in the middle of the work."""


class Refused(NicoError):
    exit_status = ExitStatus.REFUSED


class VideoNotFound(Refused):
    pass


class VideoUnavailable(Refused):
    """The video exists but cannot be read: deleted, private, members only, …"""


class ThreadError(Refused):
    """The message server answered a thread request with a non-zero resultcode (``code``)."""

    @property
    def resultcode(self) -> int | None:
        return self.code if isinstance(self.code, int) else None


class ServerError(NicoError):
    exit_status = ExitStatus.SERVER


class ServerUnavailable(ServerError):
    def __init__(self, message: str, *, response=None, **fields: Any) -> None:
        super().__init__(message, **fields)
        self.response = response  # the last answer, when there was one


class RateLimited(ServerError):
    pass


class BadAnswer(ServerError):
    """The server answered, but not with something this program can read."""


class NetworkError(NicoError):
    exit_status = ExitStatus.NETWORK


class DatabaseError(NicoError):
    exit_status = ExitStatus.DATABASE


class SchemaTooNew(DatabaseError):
    pass
