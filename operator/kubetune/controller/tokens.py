"""Per-trial collector tokens: HMAC(secret, namespace/trial/uid), so one trial cannot write
another's metrics and the operator never has to store a token (it recomputes it). Pure."""

from __future__ import annotations

import hashlib
import hmac


def build_token(secret: bytes, namespace: str, trial: str, uid: str) -> str:
    message = f"{namespace}/{trial}/{uid}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def check_token(secret: bytes, namespace: str, trial: str, uid: str, token: str) -> bool:
    return hmac.compare_digest(build_token(secret, namespace, trial, uid), token)
