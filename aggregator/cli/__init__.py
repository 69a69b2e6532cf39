"""The ``aggregator`` command line: a thin layer over the pipeline modules."""

from aggregator.cli.main import main

__all__ = ["main"]
