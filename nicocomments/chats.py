"""Comment fields as the servers write them → records (stdlib only, pure).

One mapping per vocabulary, for everything that speaks it: the legacy ``<chat>`` and
``<thread>`` (the message server's XML answers in `nicocomments.legacy`, files of XML or
api.json in `nicocomments.formats`; values may be strings or numbers), and a ``/v1/threads``
comment object (the comment server's answers in `nicocomments.nvcomment`, v1 and yt-dlp files
in `nicocomments.formats`). Problems raise `ValueError`; each caller turns it into its own
error (a bad answer from the server, a malformed file).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import Any

from nicocomments.records import FORK_BY_NUMBER, Comment, ThreadStatus, is_fork_name

_FORKS: dict[Any, str] = {
    **{str(number): name for number, name in FORK_BY_NUMBER.items()},
    **FORK_BY_NUMBER,
}
_NO: tuple = (None, "", 0, "0", False)


def _fork_of(value: Any) -> str:
    """A fork as XML names it: a number (0, 1, 2), or by name one with no number ("ai");
    KeyError for anything else."""
    name = _FORKS.get(value) if not isinstance(value, list | dict) else None
    if name is None and not is_fork_name(value):
        raise KeyError(value)
    return name or value


_new = tuple.__new__  # a Comment from a plain tuple: this runs once per comment


def chat_comment(fields: Mapping[str, Any], content: str, default_fork: str = "main") -> Comment:
    """A ``<chat>`` (its attributes, or an api.json ``chat`` object) as a `Comment`.

    ``no`` is None when the chat has none (live recordings: the importer numbers those);
    deleted chats keep their number and date, without text; ``vpos`` is in 1/100 s."""
    get = fields.get
    try:
        no = get("no")
        no = int(no) if no not in (None, "") else None
        vpos = int(get("vpos") or 0)
        date = int(get("date"))
        fork = get("fork")
        fork = default_fork if fork in (None, "") else _fork_of(fork)
    except KeyError:
        raise ValueError(f"a chat has an unknown fork {scalar_text(get('fork'))[:20]!r}") from None
    except (TypeError, ValueError, OverflowError):
        raise ValueError("a chat has a missing or non-numeric no, vpos or date") from None
    deleted = get("deleted")
    reason = int_or_none(deleted) if deleted not in _NO else None
    thread, mail, user_id = get("thread"), get("mail"), get("user_id")
    usec, score, nicoru = get("date_usec"), get("score"), get("nicoru")
    return _new(
        Comment,
        (
            thread if type(thread) is str else scalar_text(thread),  # XML: always a str
            fork,
            no,
            vpos * 10,
            date,
            "" if reason is not None else content,
            mail if type(mail) is str else scalar_text(mail),
            int_or_none(usec) if usec not in (None, "") else None,
            None
            if user_id in (None, "")
            else user_id
            if type(user_id) is str
            else scalar_text(user_id),
            get("premium") not in _NO,
            get("anonymity") not in _NO,
            reason is not None,
            reason,
            int_or_none(score) if score not in (None, "") else None,
            int_or_none(nicoru) if nicoru not in (None, "") else None,
            None,
            None,
            None,
            None,
            None,
        ),
    )


def v1_comment(
    raw: Mapping[str, Any], thread_id: str, fork: str, naive_zone: tzinfo | None = None
) -> Comment:
    """A ``/v1/threads`` comment object as a `Comment` of ``thread_id`` and ``fork``.

    A ``postedAt`` without a zone is read in ``naive_zone``, and refused without one (see
    `unix_seconds`). User ids, ids and sources come out as strings; a field that is absent or
    null stays unknown (None). Anonymity is 184 among the commands, unless the comment says
    ``"isAnonymous"`` (which nico's own v1 export adds where the two differ)."""
    try:
        commands = raw.get("commands") or ()
        if isinstance(commands, str):
            commands = commands.split()
        try:
            joined = " ".join(commands)
        except TypeError:  # a command that is not a string: say it as one
            commands = [scalar_text(c) for c in commands]
            joined = " ".join(commands)
        user_id, comment_id, source = raw.get("userId"), raw.get("id"), raw.get("source")
        score, nicoru = raw.get("score"), raw.get("nicoruCount")
        anonymous = raw.get("isAnonymous")  # nico's export adds it where 184 does not tell
        return _new(
            Comment,
            (
                thread_id,
                fork,
                int(raw["no"]),
                int(raw.get("vposMs") or 0),
                unix_seconds(raw["postedAt"], naive_zone),
                body if type(body := raw.get("body")) is str else scalar_text(body),
                joined,
                None,
                None
                if user_id in (None, "")
                else user_id
                if type(user_id) is str
                else scalar_text(user_id),
                bool(raw.get("isPremium")),
                anonymous if type(anonymous) is bool else "184" in commands,
                False,
                None,
                int(score) if type(score) is int else int_or_none(score),
                int(nicoru) if type(nicoru) is int else int_or_none(nicoru),
                None if comment_id is None else _text(comment_id),
                None if source is None else _text(source),
                None,
                None,
                None,
            ),
        )
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError):
        raise ValueError(
            "a v1 comment lacks no or postedAt, or they (or its text) are not valid"
        ) from None


def thread_status(fields: Mapping[str, Any], default_fork: str = "main") -> ThreadStatus:
    """A ``<thread>`` element (or api.json ``thread`` object) as a `ThreadStatus`."""
    fork = fields.get("fork")
    if fork not in (None, "") and (
        isinstance(fork, list | dict) or (fork not in _FORKS and not is_fork_name(fork))
    ):
        raise ValueError(f"a thread has an unknown fork {scalar_text(fork)[:20]!r}")
    ticket = fields.get("ticket")
    return ThreadStatus(
        thread_id=scalar_text(fields.get("thread")),
        fork=default_fork if fork in (None, "") else _fork_of(fork),
        resultcode=int_or_none(fields.get("resultcode")) or 0,
        last_res=int_or_none(fields.get("last_res")),
        server_time=int_or_none(fields.get("server_time")),
        ticket=scalar_text(ticket) if ticket is not None else None,
        revision=int_or_none(fields.get("revision")),
    )


def int_or_none(value: Any) -> int | None:
    """An integer from a string or a number; None for nothing, booleans and non-numbers."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return None


def _text(value: Any) -> str:
    return value if type(value) is str else scalar_text(value)


def scalar_text(value: Any) -> str:
    """Text from a string or a number; "" for nothing. Anything else (a list, an object: in a
    hostile file, nested a thousand deep, which ``str()`` cannot even print) raises
    `ValueError`."""
    if isinstance(value, str):
        return value
    if value is None or value is False:
        return ""
    if isinstance(value, int | float):
        return str(value)
    raise ValueError(f"a {type(value).__name__} where text belongs")


_fromisoformat = datetime.fromisoformat


def unix_seconds(value: Any, naive_zone: tzinfo | None = None) -> int:
    """Unix seconds of a number or an ISO 8601 string (``2011-07-18T18:36:07+09:00``, ``…Z``).

    A string that names no zone is read in ``naive_zone`` (`records.JST` for files that leave
    Japan time implicit); without one it is refused, as the servers always name the zone.
    Anything else raises `ValueError`."""
    if type(value) is str:  # the string the server sends, once per comment: the fast path
        moment = _fromisoformat(value)
        if moment.utcoffset() is None:
            if naive_zone is None:
                raise ValueError(f"a timestamp without a zone: {value[:40]!r}")
            moment = moment.replace(tzinfo=naive_zone)
        return int(moment.timestamp())
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    # Not its repr: a list may be nested deeper than repr can go.
    raise ValueError(f"not a timestamp: a {type(value).__name__}")
