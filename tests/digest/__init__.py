"""Digest tests. ``sample_view`` builds a realistic edition from hand-written briefs."""

from __future__ import annotations

from datetime import UTC, datetime

from aggregator.digest.model import DigestView, SourceRef, StoryView
from aggregator.model.brief import Brief, Term

LEAD = StoryView(
    title="Europe's first exascale supercomputer, JUPITER, passes its acceptance run",
    url="https://www.example-news.org/science/2025/06/jupiter-exascale-acceptance",
    sources=[
        SourceRef("Example Science Desk", "https://www.example-news.org/science"),
        SourceRef("HPC Wire Weekly", "https://hpc.example.com/"),
    ],
    published=datetime(2025, 6, 10, 7, 45, tzinfo=UTC),
    brief=Brief(
        bullets=[
            "The JUPITER system at Forschungszentrum Jülich sustained more than one exaflop "
            "on the HPL benchmark during its acceptance run.",
            "It is the first machine in Europe to cross that threshold and the fourth worldwide.",
            "The system combines about 24,000 Grace Hopper superchips with a liquid-cooled "
            "modular design.",
            "Researchers plan to use it first for climate models at one-kilometre resolution "
            "and for training open European language models.",
            "Operators say its energy efficiency is close to 60 gigaflops per watt.",
        ],
        terms=[
            Term(
                "Exaflop", "A rate of one quintillion (10^18) floating-point operations per second."
            ),
            Term(
                "HPL",
                "High-Performance Linpack, the dense linear-algebra benchmark behind the TOP500 list.",
            ),
            Term("Superchip", "A package that joins a CPU and a GPU with a fast coherent link."),
        ],
        paragraph="JUPITER passed its acceptance run at more than one exaflop.",
        reading_minutes=6,
    ),
)

MORE = [
    StoryView(
        title="City council approves protected bike lanes on three central avenues",
        url="https://local.example.net/transport/bike-lanes-vote",
        sources=[SourceRef("Local Gazette", "https://local.example.net/")],
        published=datetime(2025, 6, 9, 18, 2, tzinfo=UTC),
        brief=Brief(
            bullets=["The council voted 9 to 4 for the plan."],
            paragraph=(
                "After two years of consultation the council voted 9 to 4 to build protected "
                "bike lanes on three central avenues. Construction starts in September and the "
                "first avenue should open before winter; parking spaces lost on the route will "
                "be replaced in two new garages."
            ),
        ),
    ),
    StoryView(
        title="Python 3.14 beta brings deferred evaluation of annotations",
        url="https://dev.example.org/blog/python-314-beta",
        sources=[
            SourceRef("Dev Notes", "https://dev.example.org/"),
            SourceRef("Planet Python Mirror", None),
        ],
        published=datetime(2025, 6, 9, 11, 30, tzinfo=UTC),
        brief=Brief(
            bullets=[],
            paragraph=(
                "The first beta of Python 3.14 makes annotations lazily evaluated by default, "
                "adds template strings and ships an experimental free-threaded build that is "
                "now officially supported. The final release is planned for October."
            ),
            terms=[Term("PEP", "A Python Enhancement Proposal, the design document for a change.")],
        ),
    ),
    StoryView(
        title="Researchers map a 3,000-year-old trade route across the Sahara",
        url="https://www.example-news.org/history/sahara-route",
        sources=[SourceRef("Example Science Desk", "https://www.example-news.org/science")],
        published=None,
        brief=Brief(
            bullets=["Satellite images revealed wells spaced a day's walk apart."],
            paragraph="",
        ),
    ),
]


def sample_view(**changes: object) -> DigestView:
    """A daily digest with a lead and three more briefs; keyword arguments override fields."""
    view = DigestView(
        name="daily",
        title="Daily digest",
        period_label="Tuesday 10 June 2025",
        site_name="Morning Wire",
        lead=LEAD,
        more=list(MORE),
        archive_url="https://news.example.org/archive/2025-06-10",
        site_url="https://news.example.org/",
        unsubscribe_url="https://news.example.org/u/abc123?list=daily&sig=x",
        preferences_url="https://news.example.org/p/abc123",
        recipient="reader@example.com",
    )
    for key, value in changes.items():
        setattr(view, key, value)
    return view
