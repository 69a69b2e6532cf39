"""Marks every attack the project knows ``hostile``: the tests here, and the older hostile cases
where they live (listed below), so ``pytest -m hostile`` runs them all. Also lends the web and
command-line tests' fixtures to the tests here."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import make_config, open_db  # noqa: F401  (fixtures)
from tests.web.conftest import make_site, site, smtp  # noqa: F401  (fixtures)

_HERE = Path(__file__).resolve().parent
_TESTS = _HERE.parent

ELSEWHERE: dict[str, tuple[str, ...]] = {
    # module: the attack tests in it (empty: every test of the module)
    "ingest/test_parse_security.py": (),  # entity bombs, XXE
    "ingest/test_sanitize.py": (),  # feedparser's 745 hostile-markup cases, URL schemes, pixels
    "ingest/test_parse_edges.py": (
        "test_non_feeds_raise_one_line_errors",
        "test_cdata_end_marker_in_content_and_title",
        "test_control_characters_are_removed_from_every_string",
        "test_invalid_utf8_and_raw_controls_in_a_title",
    ),
    "ingest/test_poll.py": (  # bombs, stalls, trickles, oversized bodies, redirect loops, SSRF
        "test_hostile_sources_fail_cleanly_and_others_are_unaffected",
        "test_private_addresses_are_refused_unless_allowed",
    ),
    "publish/test_feeds.py": (
        "test_feedparser_reads_titles_and_links_back_exactly",
        "test_json_feed_titles_and_links_round_trip",
        "test_hostile_brief_html_stays_inert_in_every_format",
        "test_tag_feeds_stay_inside_tags_directory",
    ),
    "digest/test_message.py": ("test_header_injection_is_impossible",),
    "web/test_security.py": (),  # headers, CSRF, rate limits, enumeration, honeypot, escaping
    "web/test_tokens.py": (),  # forged, tampered, expired and cross-purpose links
    "concurrency/test_shutdown.py": (),  # SIGTERM in every state ends within a bounded time
    "ingest/test_poll_due.py": (),  # Retry-After and backoff hold for run --once; honest timings
    "web/test_public.py": (
        "test_path_traversal_is_refused",
        "test_symlink_out_of_the_folder_is_not_followed",
    ),
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(item.path)
        if _HERE in path.parents:
            item.add_marker(pytest.mark.hostile)
            continue
        names = (
            ELSEWHERE.get(path.relative_to(_TESTS).as_posix()) if _TESTS in path.parents else None
        )
        if names is not None and (not names or item.originalname in names):
            item.add_marker(pytest.mark.hostile)
