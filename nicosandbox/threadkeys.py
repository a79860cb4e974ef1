"""nvcomment thread keys: HS512 JWTs shaped like the two real ones (protocol.md §3.6).

Header ``{"typ":"JWT","alg":"HS512"}``; payload ``{"jti", "exp", "typ": "Thread-Key", "tids",
"f184s"[, "uid"]}`` in that order, compact JSON, base64url without padding, signed with a
per-sandbox secret. ``jti`` is a PHP ``uniqid()`` of the issue moment (8 hex digits of seconds, 5
of microseconds), as in both real keys; ``exp`` is the issue second + the lifetime (204 s in
both real keys). Thread ids are strings in ``tids`` and ``f184s``, as in the real keys.

Expiry is read from the key's own ``exp`` (changing ``thread_key_ttl`` affects keys issued
afterwards only). Uses are counted per ``jti`` so that ``key_max_uses`` applies to keys already
handed out.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import threading
from collections.abc import Callable, Iterable
from typing import Any

from nicosandbox.keys import EXPIRED, INVALID, VALID

HEADER = {"typ": "JWT", "alg": "HS512"}
KEY_TYPE = "Thread-Key"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _compact(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class ThreadKeys:
    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._secret = secrets.token_bytes(64)
        self._uses: dict[str, int] = {}
        self._lock = threading.Lock()

    @property
    def secret(self) -> bytes:
        """The HS512 key (tests verify signatures with it; never logged)."""
        return self._secret

    def issue(
        self,
        thread_ids: Iterable[str],
        forced_184: Iterable[str],
        user_id: str | None,
        ttl: float,
    ) -> str:
        now = self._clock()
        with self._lock:
            seconds, micros = int(now), int((now % 1) * 1_000_000)
            jti = f"{seconds & 0xFFFFFFFF:08x}{micros:05x}"
            while jti in self._uses:  # two keys in one microsecond: keep jti unique
                micros = (micros + 1) % 0x100000
                jti = f"{seconds & 0xFFFFFFFF:08x}{micros:05x}"
            self._uses[jti] = 0
        payload: dict[str, Any] = {
            "jti": jti,
            "exp": int(now + ttl),
            "typ": KEY_TYPE,
            "tids": [str(t) for t in thread_ids],
            "f184s": [str(t) for t in forced_184],
        }
        if user_id is not None:
            payload["uid"] = str(user_id)
        signing_input = f"{b64url(_compact(HEADER))}.{b64url(_compact(payload))}"
        return f"{signing_input}.{self._sign(signing_input)}"

    def _sign(self, signing_input: str) -> str:
        return b64url(
            hmac.new(self._secret, signing_input.encode("ascii"), hashlib.sha512).digest()
        )

    def claims(self, token: object) -> dict[str, Any] | None:
        """The payload of a key this sandbox signed, or None (forged, malformed, other kind)."""
        if not isinstance(token, str) or token.count(".") != 2:
            return None
        head, body, signature = token.split(".")
        try:
            expected = self._sign(f"{head}.{body}")
        except UnicodeEncodeError:
            return None
        if not hmac.compare_digest(expected, signature):
            return None
        try:
            header = json.loads(b64url_decode(head))
            payload = json.loads(b64url_decode(body))
        except (ValueError, binascii.Error):
            return None
        if header != HEADER or not isinstance(payload, dict) or payload.get("typ") != KEY_TYPE:
            return None
        return payload

    def use(self, claims: dict[str, Any], max_uses: int | None) -> str:
        """Spend one use of a valid key: VALID, or EXPIRED (past ``exp`` or used up)."""
        with self._lock:
            jti = str(claims.get("jti"))
            if jti not in self._uses:
                return INVALID
            self._uses[jti] += 1
            uses = self._uses[jti]
        if self._clock() >= claims.get("exp", 0):
            return EXPIRED
        if max_uses is not None and uses > max_uses:
            return EXPIRED
        return VALID

    def __len__(self) -> int:
        return len(self._uses)
