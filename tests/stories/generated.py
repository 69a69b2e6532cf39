"""Generated labeled cases: twin feeds (Atom and JSON copies of real blog posts, one linking the
external URL and the other the permalink), a wire story syndicated with small edits and its
follow-up, series and sponsor posts, two projects' release notes, and same-topic events."""

from __future__ import annotations

import json

from tests.stories.labeled import DATA, Labeled

WIRE = (
    "A magnitude 6.8 earthquake struck off the coast of Hokkaido early on Thursday, the Japan "
    "Meteorological Agency said, triggering a tsunami advisory for the towns of Kushiro and "
    "Nemuro. Public broadcaster NHK showed waves of about 40 centimetres reaching the harbour "
    "at Hanasaki. Hokkaido Electric Power said the Tomari nuclear plant, which is offline, had "
    "reported no abnormalities. Some 12,000 homes lost power, Hokkaido Electric said. Prime "
    "Minister Sanae Takaichi told reporters the government had set up a task force."
)
SPONSOR = (
    "This week's issue is brought to you by our sponsor. Sponsors keep this newsletter free "
    "for everyone, and we only take ads for products we would use ourselves."
)
RELEASE = (
    "We are happy to announce the release of {name} {version}. This release fixes several "
    "bugs and improves performance. See the changelog for the full list of changes. Thanks "
    "to everyone who contributed!"
)


def _item(id: str, event: str | None, source: str, title: str, text: str, at: str) -> dict:
    return {
        "id": id,
        "event": event,
        "source": source,
        "title": title,
        "link": f"{source.rstrip('/')}/{id}",
        "published": at,
        "text": text,
    }


def generated() -> Labeled:
    items: list[dict] = []
    twins: list[list[str]] = []
    posts = json.loads((DATA / "blog-posts.json").read_text())
    for n, post in enumerate(posts):
        atom = {
            "id": f"atom{n}",
            "event": f"post{n}",
            "source": post["source"],
            "title": post["title"],
            "link": f"https://linked.example/article/{n}",
            "published": post["published"],
            "text": post["text"],
        }
        json_copy = atom | {
            "id": f"json{n}",
            "source": post["source"] + "#json",
            "link": post["link"],
            "text": " ".join(post["text"].split()),
        }
        items += [atom, json_copy]
        twins.append([atom["id"], json_copy["id"]])
    quake = "2026-03-05T{}:00+00:00"
    items += [
        _item(
            "w1",
            "quake",
            "https://wire.example",
            "Magnitude 6.8 quake strikes off Hokkaido, tsunami advisory issued",
            WIRE,
            quake.format("02:10"),
        ),
        _item(
            "w2",
            "quake",
            "https://daily.example",
            "Strong earthquake hits off Hokkaido; tsunami advisory for Kushiro, Nemuro",
            WIRE.replace(" Some 12,000 homes lost power, Hokkaido Electric said.", "")
            + " (Reporting by staff)",
            quake.format("02:40"),
        ),
        _item(
            "w3",
            "quake",
            "https://herald.example",
            "Japan: 6.8 earthquake off Hokkaido triggers tsunami advisory",
            "TOKYO (Wire) — " + WIRE.replace("early on Thursday", "on Thursday morning"),
            quake.format("03:05"),
        ),
        _item(
            "w4",
            "quake",
            "https://times.example",
            "Hokkaido earthquake: 12,000 homes without power as tsunami advisory lifted",
            "The Japan Meteorological Agency "
            "lifted the tsunami advisory for Kushiro and Nemuro on Thursday afternoon, hours "
            "after a magnitude 6.8 earthquake off Hokkaido. Hokkaido Electric Power said "
            "12,000 homes were still without power and the Tomari plant was safe. NHK said "
            "no deaths had been reported.",
            quake.format("09:30"),
        ),
        _item(
            "s1",
            None,
            "https://newsletter.example",
            "[Sponsor] Faster CI with Buildkite",
            SPONSOR + " Buildkite runs your pipelines on your own machines.",
            "2026-03-02T08:00:00+00:00",
        ),
        _item(
            "s2",
            None,
            "https://newsletter.example",
            "[Sponsor] Ship docs with Mintlify",
            SPONSOR + " Mintlify turns your Markdown into a documentation site.",
            "2026-03-04T08:00:00+00:00",
        ),
        _item(
            "r1",
            None,
            "https://releases.example",
            "Hyperion 2.4.0 released",
            RELEASE.format(name="Hyperion", version="2.4.0"),
            "2026-03-03T10:00:00+00:00",
        ),
        _item(
            "r2",
            None,
            "https://releases.example",
            "Quasar 0.9 released",
            RELEASE.format(name="Quasar", version="0.9"),
            "2026-03-03T12:00:00+00:00",
        ),
        _item(
            "r3",
            None,
            "https://releases.example",
            "Hyperion 2.4.1 released",
            RELEASE.format(name="Hyperion", version="2.4.1"),
            "2026-03-05T10:00:00+00:00",
        ),
        _item(
            "t1",
            None,
            "https://gadgets.example",
            "Samsung unveils Galaxy Z Fold 8 at CES 2027",
            "At CES 2027 in Las Vegas, Samsung showed the Galaxy Z Fold 8, a "
            "foldable phone with a thinner hinge and a 200-megapixel camera.",
            "2027-01-07T18:00:00+00:00",
        ),
        _item(
            "t2",
            None,
            "https://techdaily.example",
            "Sony shows WH-2000XM7 headphones at CES 2027",
            "Sony used CES 2027 in Las Vegas to show the WH-2000XM7, noise-"
            "cancelling headphones with a battery that lasts 40 hours.",
            "2027-01-07T20:00:00+00:00",
        ),
        _item(
            "p1",
            None,
            "https://paris.example",
            "Macron names Sébastien Lecornu defence minister again",
            "French President Emmanuel Macron on Monday named Sébastien "
            "Lecornu as defence minister in a government reshuffle, the Elysée said.",
            "2026-03-09T10:00:00+00:00",
        ),
        _item(
            "p2",
            None,
            "https://lyon.example",
            "Macron visits flood-hit towns in the Var",
            "French President Emmanuel Macron visited towns in the Var on Monday after "
            "floods that forced 3,000 people from their homes, the Elysée said.",
            "2026-03-09T15:00:00+00:00",
        ),
        _item(
            "v1",
            None,
            "https://weekly.example",
            "Week in Review",
            "Our editors pick the "
            "best long reads: the history of the bicycle, a profile of a lighthouse keeper.",
            "2026-03-06T09:00:00+00:00",
        ),
        _item(
            "v2",
            None,
            "https://weekly.example",
            "Week in Review",
            "Our editors pick the "
            "best long reads: a year on a container ship, and why cities plant trees.",
            "2026-03-08T09:00:00+00:00",
        ),
    ]
    items += _series()
    hard = [
        ["c1", "c2", "c3"],
        ["y1", "y2"],
        ["a1", "a2", "a3"],
        ["s1", "s2"],
        ["r1", "r2", "r3"],
        ["t1", "t2"],
        ["p1", "p2"],
        ["v1", "v2"],
        [f"atom{n}" for n in range(len(posts))],
    ]
    return Labeled(items, hard, twins)


LESSONS = {
    "Volumes": "Docker Compose keeps MySQL data of our Laravel app in named volumes. We "
    "define the volume in docker-compose.yml, then Nginx, PHP and MySQL restart without "
    "losing rows.",
    "Services": "Laravel needs Redis and a queue worker, so docker-compose.yml gains two "
    "services beside Nginx, PHP and MySQL. Docker Compose starts them in order.",
    "Networks": "Nginx, PHP and MySQL of the Laravel app sit on a private network in "
    "docker-compose.yml; Docker Compose names each container so they find each other.",
}
REFLECTIONS = (
    "Looking back at a year of making YouTube videos about retro computers and the Commodore "
    "64: what went well, what went badly, and the numbers behind the channel. {part}"
)
ANCHORS = (
    "A tool I keep coming back to when building small web projects with HTMX, Alpine.js and "
    "plain CSS on a static site. {what}"
)


def _series() -> list[dict]:
    """One feed's series: a course's lessons under one lead, numbered parts, and a link page
    whose entries are anchors of one page (different items, never one story)."""
    day = "2026-03-10T{}:00+00:00"
    course, channel, page = (
        "https://course.example",
        "https://channel.example",
        "https://links.example",
    )
    items = [
        _item(f"c{n}", None, course, f"Docker Compose: {title}", text, day.format(f"08:0{n}"))
        for n, (title, text) in enumerate(LESSONS.items(), start=1)
    ]
    items += [
        _item(
            f"y{n}",
            None,
            channel,
            f"YouTube 2022 Reflections, Part {n}: {topic}",
            REFLECTIONS.format(part=part),
            day.format(f"1{n}:00"),
        )
        for n, (topic, part) in enumerate(
            [("Silliness", "Part one is about the fun."), ("Media Analysis", "Part two: views.")],
            start=1,
        )
    ]
    for n, name in enumerate(["HTMX", "Alpine.js", "CSS Bed"], start=1):
        item = _item(f"a{n}", None, page, name, ANCHORS.format(what=name), day.format("20:00"))
        items.append(item | {"link": f"{page}/awesome#{name.lower().replace(' ', '-')}"})
    return items
