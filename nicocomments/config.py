"""Where things live: endpoints (and the env vars that override them), config dir, database."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from urllib.parse import urlsplit

ENDPOINT_ENV_VARS = {
    "flapi": "NICO_FLAPI_URL",  # getflv, getthreadkey, getwaybackkey
    "account": "NICO_ACCOUNT_URL",  # login
    "www": "NICO_WWW_URL",  # site pages, watch data, the login check
    "nvapi": "NICO_NVAPI_URL",  # thread keys for nvcomment; listings (users, mylists, series)
    "snapshot": "NICO_SNAPSHOT_URL",  # Snapshot Search API v2 (tags, keyword searches)
    "live": "NICO_LIVE_URL",  # Niconico Live watch pages
    "live2": "NICO_LIVE2_URL",  # Niconico Live's timeshift API
    "channel": "NICO_CHANNEL_URL",  # ch.nicovideo.jp: a channel's video list pages
}
# Hosts that never get the session cookie: Snapshot Search is anonymous.
COOKIELESS = frozenset({"snapshot"})
DB_ENV_VAR = "NICO_DB"
CONFIG_DIR_ENV_VAR = "NICO_CONFIG_DIR"
DEFAULT_DB = "nico.db"
# Real Niconico cookies live on this domain; every configured host gets the session too.
NICONICO_COOKIE_DOMAIN = ".nicovideo.jp"


@dataclass(frozen=True)
class Endpoints:
    """Base URLs of the hosts nico talks to. The message server, the nvcomment server, the live
    watch WebSocket and the live message server are never configured: the site names them
    (getflv `ms`, watch data `nvComment.server`, the live watch page, the WebSocket)."""

    flapi: str = "https://flapi.nicovideo.jp"
    account: str = "https://account.nicovideo.jp"
    www: str = "https://www.nicovideo.jp"
    nvapi: str = "https://nvapi.nicovideo.jp"
    snapshot: str = "https://snapshot.search.nicovideo.jp"
    live: str = "https://live.nicovideo.jp"
    live2: str = "https://live2.nicovideo.jp"
    channel: str = "https://ch.nicovideo.jp"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Endpoints:
        environ = os.environ if environ is None else environ
        overrides = {
            name: environ[var].rstrip("/")
            for name, var in ENDPOINT_ENV_VARS.items()
            if environ.get(var)
        }
        return cls(**overrides)

    def url(self, name: str, path: str) -> str:
        return getattr(self, name).rstrip("/") + path

    def hosts(self) -> set[str]:
        """Host names the session cookie may be sent to (not Snapshot Search: it takes none)."""
        names = (f.name for f in fields(self) if f.name not in COOKIELESS)
        return {urlsplit(getattr(self, name)).hostname or "" for name in names} - {""}


def config_dir(environ: Mapping[str, str] | None = None) -> Path:
    """NICO_CONFIG_DIR, else $XDG_CONFIG_HOME/nicocomments, else ~/.config/nicocomments."""
    environ = os.environ if environ is None else environ
    if environ.get(CONFIG_DIR_ENV_VAR):
        return Path(environ[CONFIG_DIR_ENV_VAR]).expanduser()
    base = environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base).expanduser() / "nicocomments"


def default_db(environ: Mapping[str, str] | None = None) -> str:
    environ = os.environ if environ is None else environ
    return environ.get(DB_ENV_VAR) or DEFAULT_DB
