"""Per-trial collector tokens: `UID.HMAC(secret, namespace/trial/uid)`. Pure.

One trial cannot write another's metrics, and the operator never stores a token (it
recomputes it). The Trial's uid travels inside the token, so the collector checks a token
from the request's path and headers alone, before it reads the body or calls the API; the
uid is then compared with the Trial's own, so a token of a deleted Trial whose name came
back (a Study created again) is refused.
"""

from __future__ import annotations

import hashlib
import hmac


def _mac(secret: bytes, namespace: str, trial: str, uid: str) -> str:
    message = f"{namespace}/{trial}/{uid}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def build_token(secret: bytes, namespace: str, trial: str, uid: str) -> str:
    return f"{uid}.{_mac(secret, namespace, trial, uid)}"


def read_token(secret: bytes, namespace: str, trial: str, token: str) -> str | None:
    """The Trial uid a genuine token for namespace/trial carries; None for any other token."""
    uid, dot, mac = token.rpartition(".")
    if not dot or not uid or len(token) > 200 or not token.isascii():
        return None
    return uid if hmac.compare_digest(_mac(secret, namespace, trial, uid), mac) else None
