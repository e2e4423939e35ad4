"""The opt-in ``pickle`` serializer: pickled values, signed, never loaded unverified.

Stored bytes: ``MAGIC + HMAC-SHA256(secret, len(key) || key || payload) + payload``
through a native handle opened with ``serializer="raw"``. The key is bound into the
signature (with its length, so key/payload boundaries can't be shifted), so a value
can't be replayed under another key. On read, anything without the magic prefix or
with a bad signature is a miss: ``pickle.loads`` only ever sees bytes this secret
signed. Values the native layer decoded itself (e.g. a counter made by
``increment``) are plain data, never pickles, and are returned as they are.
"""
from __future__ import annotations

import hashlib
import hmac
import pickle
from typing import Any, Callable, Final

from ._native import MISSING

__all__ = ["SignedPickle", "MAGIC"]

MAGIC: Final = b"SCPK\x01"
_DIGEST: Final = 32
_HEADER: Final = len(MAGIC) + _DIGEST


def _key_bytes(key: str | bytes) -> bytes:
    if isinstance(key, str):
        return key.encode()
    if isinstance(key, bytes):
        return key
    raise TypeError(f"key must be str or bytes, not {type(key).__name__!r}")


class SignedPickle:
    """Encode / decode for one secret. ``on_reject`` is called for each refused value."""

    __slots__ = ("_secret", "_on_reject", "protocol")

    def __init__(self, secret: bytes, on_reject: Callable[[str | bytes], None],
                 protocol: int = pickle.HIGHEST_PROTOCOL) -> None:
        if not secret:
            raise ValueError("a pickle secret must not be empty")
        self._secret = secret
        self._on_reject = on_reject
        self.protocol = protocol

    def _sign(self, key: bytes, payload: bytes) -> bytes:
        mac = hmac.new(self._secret, len(key).to_bytes(8, "big"), hashlib.sha256)
        mac.update(key)
        mac.update(payload)
        return mac.digest()

    def dumps(self, key: str | bytes, value: Any) -> bytes:
        kb = _key_bytes(key)
        payload = pickle.dumps(value, protocol=self.protocol)
        return MAGIC + self._sign(kb, payload) + payload

    def loads(self, key: str | bytes, stored: Any) -> Any:
        """The value, or MISSING when ``stored`` is not a value this secret signed."""
        if stored is MISSING:
            return MISSING
        if not isinstance(stored, bytes):
            return stored  # decoded by the native layer: data, not a pickle
        if len(stored) < _HEADER or not stored.startswith(MAGIC):
            self._on_reject(key)
            return MISSING
        payload = stored[_HEADER:]
        if not hmac.compare_digest(stored[len(MAGIC):_HEADER], self._sign(_key_bytes(key), payload)):
            self._on_reject(key)
            return MISSING
        return pickle.loads(payload)
