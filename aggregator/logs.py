"""Structured logging: one line per event, ``key=value`` pairs after the message, or one JSON
object per line for log shippers.

Fields of an event (what it is about: a source's name, id and URL) are passed with ``extra=``
(see :func:`source_fields`): they follow the message as ``key=value`` pairs, or are keys of their
own in the JSON object, never part of the message text.
"""

from __future__ import annotations

import json
import logging
import sys
import time

SERVICE_LOGGERS = ("aggregator.service", "aggregator.locks", "aggregator.outbox")
"""What `aggregator run` says at the default verbosity: start-up, ticks, runs, leadership."""

_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's coloured copy of the message
}
"""What every log record has; anything else on a record is a field passed with ``extra=``."""


def source_fields(source_id: int, name: str, url: str = "") -> dict[str, object]:
    """The fields that name a source in a log event (pass as ``extra=``)."""
    fields: dict[str, object] = {"source": name, "source_id": source_id}
    if url:
        fields["url"] = url
    return fields


def event_fields(record: logging.LogRecord) -> dict[str, object]:
    """The fields passed with ``extra=`` to this record, in the order given."""
    return {k: v for k, v in vars(record).items() if k not in _RECORD_ATTRIBUTES}


def _pair(key: str, value: object) -> str:
    text = str(value)
    if not text or any(c.isspace() or c in '"=' for c in text):
        text = json.dumps(text, ensure_ascii=False)
    return f"{key}={text}"


class _LineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        message = record.getMessage().replace("\n", " ")
        line = f"{stamp}Z level={record.levelname.lower()} logger={record.name} {message}"
        for key, value in event_fields(record).items():
            line += " " + _pair(key, value)
        if record.exc_info and record.levelno >= logging.ERROR:
            line += " exc=" + repr(self.formatException(record.exc_info).splitlines()[-1])
        return line


class _JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, object] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created)),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in event_fields(record).items():
            event.setdefault(key, value)
        if record.exc_info and record.levelno >= logging.ERROR:
            event["exc"] = self.formatException(record.exc_info).splitlines()[-1]
        return json.dumps(event, ensure_ascii=False, default=str)


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
