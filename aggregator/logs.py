"""Structured logging: one line per event, ``key=value`` pairs after the message, or one JSON
object per line for log shippers."""

from __future__ import annotations

import json
import logging
import sys
import time

SERVICE_LOGGERS = ("aggregator.service", "aggregator.locks", "aggregator.outbox")
"""What `aggregator run` says at the default verbosity: start-up, ticks, runs, leadership."""


class _LineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        message = record.getMessage().replace("\n", " ")
        line = f"{stamp}Z level={record.levelname.lower()} logger={record.name} {message}"
        if record.exc_info and record.levelno >= logging.ERROR:
            line += " exc=" + repr(self.formatException(record.exc_info).splitlines()[-1])
        return line


class _JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        event = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created)),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and record.levelno >= logging.ERROR:
            event["exc"] = self.formatException(record.exc_info).splitlines()[-1]
        return json.dumps(event, ensure_ascii=False)


def setup_logging(level: int = logging.INFO, *, as_json: bool = False) -> None:
    """Log to stderr, one line per event (a JSON object per line with ``as_json``)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JSONFormatter() if as_json else _LineFormatter())
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
