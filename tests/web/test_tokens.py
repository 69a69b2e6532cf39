"""Signed link tokens: round trips, and refusal of tampered, expired, foreign and wrong-purpose ones."""

from __future__ import annotations

import itertools

import pytest

from aggregator.mail.links import (
    PURPOSES,
    BadToken,
    ExpiredToken,
    TokenError,
    WrongPurpose,
    make_token,
    read_token,
)

SECRET = "test-secret-key"


@pytest.mark.parametrize("purpose", PURPOSES)
def test_token_round_trips_and_is_url_safe(purpose: str) -> None:
    token = make_token(SECRET, purpose, 4242)
    assert read_token(SECRET, token, purpose, max_age=3600) == 4242
    assert read_token(SECRET, token, purpose, max_age=None) == 4242
    assert all(c.isalnum() or c in "-_." for c in token)


@pytest.mark.parametrize(("made_for", "used_for"), list(itertools.permutations(PURPOSES, 2)))
def test_token_for_one_purpose_is_refused_for_another(made_for: str, used_for: str) -> None:
    token = make_token(SECRET, made_for, 7)
    with pytest.raises(WrongPurpose, match="different page"):
        read_token(SECRET, token, used_for, max_age=None)


def test_changed_subscriber_id_breaks_the_signature() -> None:
    token = make_token(SECRET, "unsubscribe", 1)
    payload, rest = token.split(".", 1)
    forged = make_token(SECRET, "unsubscribe", 2).split(".", 1)[0] + "." + rest
    assert forged != token and payload != forged.split(".", 1)[0]
    with pytest.raises(BadToken):
        read_token(SECRET, forged, "unsubscribe", max_age=None)


@pytest.mark.parametrize("position", [0, 3, -2])  # the last base64 char partly holds padding bits
def test_tampered_character_is_refused(position: int) -> None:
    token = make_token(SECRET, "preferences", 5)
    chars = list(token)
    chars[position] = "A" if chars[position] != "A" else "B"
    with pytest.raises(BadToken):
        read_token(SECRET, "".join(chars), "preferences", max_age=None)


def test_token_signed_with_another_secret_is_refused() -> None:
    token = make_token("another-secret", "confirm", 5)
    with pytest.raises(BadToken):
        read_token(SECRET, token, "confirm", max_age=None)


def test_expired_token_is_refused_but_unlimited_age_accepts_it() -> None:
    token = make_token(SECRET, "confirm", 9)
    with pytest.raises(ExpiredToken, match="expired"):
        read_token(SECRET, token, "confirm", max_age=-1)
    assert read_token(SECRET, token, "confirm", max_age=None) == 9


@pytest.mark.parametrize("garbage", ["", "x", "a" * 5000, "MQ.é.ü", "..", "<script>"])
def test_garbage_is_a_token_error_not_a_crash(garbage: str) -> None:
    with pytest.raises(TokenError):
        read_token(SECRET, garbage, "unsubscribe", max_age=None)


def test_unknown_purpose_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown token purpose"):
        make_token(SECRET, "admin", 1)
