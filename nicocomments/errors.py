"""Expected, user-facing failures and the exit codes they map to.

Library code raises a `NicoError` subclass; only the CLI turns it into ``Error: …`` on stderr
and an exit code. Anything that is not a `NicoError` is a bug.
"""

from __future__ import annotations

from enum import IntEnum


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
    """An expected failure with a message meant for the user."""

    exit_status: ExitStatus = ExitStatus.BUG

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


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
    """The message server answered a thread request with a non-zero resultcode."""

    def __init__(self, message: str, *, resultcode: int, thread_id: str) -> None:
        super().__init__(message)
        self.resultcode = resultcode
        self.thread_id = thread_id


class ServerError(NicoError):
    exit_status = ExitStatus.SERVER


class ServerUnavailable(ServerError):
    def __init__(self, message: str, *, status: int | None = None, response=None) -> None:
        super().__init__(message)
        self.status = status
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
