"""Short-lived keys (threadkey, waybackkey, userkey) that look like the real ones and expire.

Real keys are ``<unix time>.<27 url-safe chars>`` (threadkey, waybackkey: a SHA-1-sized MAC) and
``<unix time>.~1~<43 chars>`` (userkey: SHA-256-sized). In the two real userkeys whose issue time
is known, the number is the issue time + 1800 s, i.e. the expiry, so the emulator writes the
expiry there too. The MAC (server secret over kind, subject, expiry and a serial) makes forged
keys and keys of another thread invalid; a registry tracks each key's age and uses, so the
`key_ttl` and `key_max_uses` knobs apply to keys already handed out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass

VALID, INVALID, EXPIRED = "valid", "invalid", "expired"


@dataclass
class _Issued:
    kind: str
    subject: str  # thread id (threadkey, waybackkey) or user id (userkey)
    issued_at: float
    uses: int = 0
    last_request: int = -1


class KeyStore:
    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._secret = secrets.token_bytes(32)
        self._issued: dict[str, _Issued] = {}
        self._serial = 0
        self._lock = threading.Lock()

    def issue(self, kind: str, subject: str, ttl: float) -> str:
        now = self._clock()
        with self._lock:
            self._serial += 1
            expires = int(now + ttl)
            message = f"{kind}|{subject}|{expires}|{self._serial}".encode()
            if kind == "userkey":
                mac = hmac.new(self._secret, message, hashlib.sha256).digest()
                key = f"{expires}.~1~{base64.urlsafe_b64encode(mac).decode()[:43]}"
            else:
                mac = hmac.new(self._secret, message, hashlib.sha1).digest()
                key = f"{expires}.{base64.urlsafe_b64encode(mac).decode()[:27]}"
            self._issued[key] = _Issued(kind, subject, now)
        return key

    def check(
        self,
        kind: str,
        subject: str | None,
        key: str,
        *,
        ttl: float,
        max_uses: int | None,
        request: int,
    ) -> str:
        """VALID, INVALID (forged, other kind or other thread) or EXPIRED (too old or used up).

        Uses are counted per HTTP request (`request` is its serial): a packet that carries one
        key on several elements spends it once.
        """
        with self._lock:
            issued = self._issued.get(key)
            if (
                issued is None
                or issued.kind != kind
                or (subject is not None and issued.subject != subject)
            ):
                return INVALID
            if issued.last_request != request:
                issued.last_request = request
                issued.uses += 1
            if self._clock() >= issued.issued_at + ttl:
                return EXPIRED
            if max_uses is not None and issued.uses > max_uses:
                return EXPIRED
            return VALID

    def __len__(self) -> int:
        return len(self._issued)
