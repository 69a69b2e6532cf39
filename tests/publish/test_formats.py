"""One registry of output formats: publisher, web server, archive and templates all follow it."""

from __future__ import annotations

import jinja2

from aggregator.publish.formats import FORMATS
from aggregator.templating import environment
from aggregator.web.static import MEDIA_TYPES


def test_every_format_is_served_with_its_media_type() -> None:
    for fmt in FORMATS:
        assert MEDIA_TYPES[f".{fmt.suffix}"] == fmt.content_type
        if fmt.template:
            environment().get_template(fmt.template)  # exists


def test_a_template_of_a_new_kind_is_escaped_unless_it_is_plain_text() -> None:
    loader = jinja2.DictLoader(
        {"feed.newformat.j2": "{{ v }}", "mail.txt.j2": "{{ v }}", "x.css": "{{ v }}"}
    )
    env = jinja2.Environment(loader=loader, autoescape=environment().autoescape)
    value = "<script>&"
    assert env.get_template("feed.newformat.j2").render(v=value) == "&lt;script&gt;&amp;"
    assert env.get_template("mail.txt.j2").render(v=value) == value
    assert env.get_template("x.css").render(v=value) == value
