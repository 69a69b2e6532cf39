"""Per-subscriber cost of a digest mail, measured side by side in one run.

1. Building the message: our lean builder vs the standard library's ``EmailMessage``.
2. Producing the body: ``personalise`` (render once, substitute per subscriber) vs a full
   render + CSS inlining per subscriber.

Run from the repository root: ``.venv/bin/python -m bench.mailbuild [--messages 300]``
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from aggregator.digest.render import prepare
from aggregator.mail.message import build_message
from tests.digest import sample_view

UNSUB = "https://news.example.org/u/{n}?sig=0123456789abcdef"
PREFS = "https://news.example.org/p/{n}"


def _per_call_ms(fn: Callable[[int], object], n: int) -> float:
    fn(0)  # warm up
    start = time.perf_counter()
    for i in range(n):
        fn(i)
    return (time.perf_counter() - start) / n * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=300)
    n = parser.parse_args().messages
    view = sample_view(more=sample_view().more * 3)  # about 30 KB of HTML, like DESIGN.md
    rendered = prepare(view)
    html, text = rendered.personalise(unsubscribe_url=UNSUB, preferences_url=PREFS)

    def lean(i: int, encoding: str = "quoted-printable") -> bytes:
        return build_message(
            encoding=encoding,
            sender="digest@news.example.org",
            sender_name="Morning Wire",
            recipient=f"reader{i}@example.com",
            subject=rendered.subject,
            text=text,
            html=html,
            list_id="daily.news.example.org",
            unsubscribe_url=UNSUB.format(n=i),
            unsubscribe_mailto="mailto:unsubscribe@news.example.org",
        )

    def stdlib(i: int) -> bytes:
        msg = EmailMessage()
        msg["From"] = "Morning Wire <digest@news.example.org>"
        msg["To"] = f"reader{i}@example.com"
        msg["Subject"] = rendered.subject
        msg["Date"] = format_datetime(datetime.now(UTC))
        msg["Message-ID"] = make_msgid(domain="news.example.org")
        msg["List-Id"] = "<daily.news.example.org>"
        msg["List-Unsubscribe"] = f"<{UNSUB.format(n=i)}>, <mailto:unsubscribe@news.example.org>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        msg.set_content(text, cte="quoted-printable")
        msg.add_alternative(html, subtype="html", cte="quoted-printable")
        return msg.as_bytes()

    def personalise(i: int) -> tuple[str, str]:
        return rendered.personalise(unsubscribe_url=UNSUB.format(n=i), preferences_url=PREFS)

    def full_render(i: int) -> tuple[str, str]:
        view.unsubscribe_url, view.preferences_url = UNSUB.format(n=i), PREFS
        return prepare(view).personalise(
            unsubscribe_url=view.unsubscribe_url, preferences_url=PREFS
        )

    print(f"HTML part {len(html.encode()) / 1024:.1f} KB, text part {len(text) / 1024:.1f} KB")
    lean_ms, std_ms = _per_call_ms(lean, n), _per_call_ms(stdlib, n)
    b64_ms = _per_call_ms(lambda i: lean(i, "base64"), n)
    print(f"build message  lean QP {lean_ms:.3f} ms   lean base64 {b64_ms:.3f} ms   "
          f"EmailMessage QP {std_ms:.3f} ms   ratio (QP) {std_ms / lean_ms:.1f}x")  # fmt: skip
    pers_ms, full_ms = _per_call_ms(personalise, n), _per_call_ms(full_render, max(20, n // 10))
    print(f"body per subscriber  personalise {pers_ms:.3f} ms   render+inline {full_ms:.3f} ms   "
          f"ratio {full_ms / pers_ms:.1f}x")  # fmt: skip


if __name__ == "__main__":
    main()
