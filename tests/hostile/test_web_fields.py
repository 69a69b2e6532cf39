"""Form, query and header values from outside are parsed strictly: a 4xx for anything odd, never a 500.

Named cases first (each once a 500), then a bounded Hypothesis fuzz of every field the subscription
pages read, over real HTTP.
"""

from __future__ import annotations

import os
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from aggregator.web.static import _http_date
from aggregator.web.subscriptions import whole_number
from tests.web.conftest import Site
from tests.web.test_pages import subscribe

FUZZ = settings(
    max_examples=int(os.environ.get("AGGREGATOR_FUZZ_EXAMPLES", "30")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.mark.parametrize(
    "raw", ["²", "٣", "１", "-1", "+1", " 1", "1_000", "1" * 19, "", "0x1", "1.0", None, 1]
)
def test_whole_number_takes_only_short_ascii_digits(raw: object) -> None:
    assert whole_number(raw) is None


def test_whole_number_reads_ascii_digits() -> None:
    assert whole_number("0") == 0
    assert whole_number("42") == 42
    assert whole_number("9" * 18) == int("9" * 18)


def test_unicode_digit_as_a_source_is_a_400_not_a_500(site: Site) -> None:
    assert subscribe(site.client(), "a@example.org", source="²", digest=[]) == 400


def test_unicode_digit_source_beside_an_unknown_digest_is_a_400(site: Site) -> None:
    assert subscribe(site.client(), "a@example.org", source=["1", "٣"], digest=["nope"]) == 400


def test_unicode_digit_content_length_is_refused_not_a_500(site: Site) -> None:
    client = site.client()
    token = client.get("/subscribe").csrf()
    body = f"csrf_token={token}&email=a@example.org&digest=daily".encode()
    reply = client.post(
        "/subscribe",
        body=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", "Content-Length": "²"},
    )
    assert 400 <= reply.status < 500


def test_if_modified_since_beyond_the_calendar_is_ignored() -> None:
    assert _http_date("Mon, 01 Jan 99999999999 00:00:00 +0000") is None
    assert _http_date("Mon, 01 Jan 0001 00:00:00 +1400") is not None


_VALUE = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["²", "٣", "１", "\x00", "daily", "1", "-1", "9" * 30, "UTC", "paused"]),
)


@FUZZ
@given(
    email=_VALUE,
    digests=st.lists(_VALUE, max_size=3),
    tags=st.lists(_VALUE, max_size=3),
    sources=st.lists(_VALUE, max_size=3),
)
@example(email="a@example.org", digests=["daily"], tags=[], sources=["²"])
@example(email="²", digests=["²"], tags=["²"], sources=["٣", "1"])
def test_fuzzed_subscribe_form_never_fails_the_server(
    site: Site, email: str, digests: list[str], tags: list[str], sources: list[str]
) -> None:
    client = site.client()
    status = subscribe(client, email, digest=digests, tag=tags, source=sources)
    assert status < 500


@FUZZ
@given(token=st.text(max_size=60), timezone=_VALUE, delivery=_VALUE, action=_VALUE)
@example(token="²", timezone="²", delivery="²", action="resubscribe")
def test_fuzzed_token_pages_and_preference_fields_never_fail_the_server(
    site: Site, token: str, timezone: str, delivery: str, action: str
) -> None:
    client = site.client()
    csrf = client.get("/subscribe").csrf()
    path = quote(token, safe="")
    for page in ("confirm", "preferences", "unsubscribe"):
        assert client.get(f"/{page}/{path}?source=%C2%B2&x={path}").status < 500
        form = {"csrf_token": csrf, "timezone": timezone, "delivery": delivery, "action": action}
        assert client.post(f"/{page}/{path}", form=form).status < 500
