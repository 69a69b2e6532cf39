"""aggregator: poll feeds, brief every story, mail digests, publish one combined feed."""

__version__ = "0.1.0"
