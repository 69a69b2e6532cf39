"""Structured logging: one line per event, ``key=value`` pairs after the message."""

from __future__ import annotations

import logging
import sys
import time


class _LineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        message = record.getMessage().replace("\n", " ")
        line = f"{stamp}Z level={record.levelname.lower()} logger={record.name} {message}"
        if record.exc_info and record.levelno >= logging.ERROR:
            line += " exc=" + repr(self.formatException(record.exc_info).splitlines()[-1])
        return line


def setup_logging(level: int = logging.INFO) -> None:
    """Log to stderr, one line per event."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_LineFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in (
        "alembic",
        "apscheduler",
        "uvicorn.access",
        "trafilatura",
        "htmldate",
        "readability",
    ):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
