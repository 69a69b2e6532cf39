"""The subscriber pages, their stylesheet and their mails from the operator's templates."""

from __future__ import annotations

from pathlib import Path

from tests.test_templates_dir import _overrides
from tests.web.conftest import SiteFactory
from tests.web.test_pages import subscribe

BASE = (Path(__file__).parents[2] / "templates" / "web" / "base.html.j2").read_text()


def test_pages_stylesheet_and_mails_follow_the_overrides(
    make_site: SiteFactory, tmp_path: Path
) -> None:
    folder = _overrides(
        tmp_path,
        {
            "web/base.html.j2": BASE.replace(
                '<footer class="footer">', '<footer class="footer"><p>Run by {{ site_name }}</p>'
            ),
            "web/style.css": "body { background: #fedcba; }\n",
            "web/mail.txt.j2": "Ours: {{ letter.heading }}\n{{ letter.action.url }}\n",
        },
    )
    site = make_site(general={"name": "Tom & Jerry", "templates_dir": str(folder)})
    client = site.client()
    page = client.get("/subscribe")
    assert page.status == 200
    assert "<p>Run by Tom &amp; Jerry</p>" in page.text  # escaped as the shipped layout is
    assert client.get("/assets/style.css").text == "body { background: #fedcba; }\n"
    assert subscribe(client, "reader@example.org") == 200
    [mail] = site.wait_for_mails(1)
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert text.startswith("Ours: Please confirm your subscription\n")
    html = mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "Please confirm your subscription" in html  # web/mail.html.j2: the shipped one
