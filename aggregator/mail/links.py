"""Signed links for subscribers: one token per (purpose, subscriber), tamper-proof, optionally expiring.

The purpose is part of the signing salt, so a token made for one purpose never verifies for another;
the subscriber id is the signed payload, so it cannot be swapped. Tokens are URL-safe.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

PURPOSES: Final = ("confirm", "preferences", "unsubscribe")
MAX_TOKEN_CHARS: Final = 200
"""Real tokens are about 40 characters; anything far longer is refused unread."""


class TokenError(ValueError):
    """A link token cannot be used; ``str(error)`` is a sentence fit to show the visitor."""


class BadToken(TokenError):
    """Garbled or tampered with (or signed with another key)."""


class ExpiredToken(TokenError):
    """Correctly signed, but older than the allowed age."""


class WrongPurpose(TokenError):
    """Correctly signed, but for another kind of link."""


@lru_cache(maxsize=32)
def _serializer(secret: str, purpose: str) -> URLSafeTimedSerializer:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}; expected one of {PURPOSES}")
    return URLSafeTimedSerializer(secret, salt=f"aggregator.web.{purpose}")


def make_token(secret: str, purpose: str, subscriber_id: int) -> str:
    """A signed, timestamped token naming ``subscriber_id`` for ``purpose``."""
    return _serializer(secret, purpose).dumps(int(subscriber_id))


def link_path(secret: str, purpose: str, subscriber_id: int) -> str:
    """The path of a subscriber's page for ``purpose``: ``/<purpose>/<token>``."""
    return f"/{purpose}/{make_token(secret, purpose, subscriber_id)}"


def read_token(secret: str, token: str, purpose: str, max_age: float | None) -> int:
    """The subscriber id in ``token``; raises a TokenError subclass when it cannot be trusted.

    ``max_age`` is in seconds; None means the token never expires.
    """
    serializer = _serializer(secret, purpose)
    if not token or len(token) > MAX_TOKEN_CHARS or not token.isascii():
        raise BadToken("This link is not valid. Check that it was copied completely.")
    try:
        value = serializer.loads(token, max_age=None if max_age is None else int(max_age))
    except SignatureExpired:
        raise ExpiredToken("This link has expired.") from None
    except BadSignature:
        if any(_verifies(secret, token, other) for other in PURPOSES if other != purpose):
            raise WrongPurpose("This link is meant for a different page.") from None
        raise BadToken("This link is not valid. Check that it was copied completely.") from None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise BadToken("This link is not valid.")
    return value


def _verifies(secret: str, token: str, purpose: str) -> bool:
    try:
        _serializer(secret, purpose).loads(token)
    except BadSignature:
        return False
    return True
