"""Structured logs: one JSON object per line, for a county's log collector."""

from __future__ import annotations

import json
import logging
import logging.config
from typing import Any
from datetime import UTC, datetime


class JsonFormatter(logging.Formatter):
    """Render a record as JSON, carrying any ``extra`` fields passed to the logger."""

    RESERVED = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in self.RESERVED})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def logging_config(level: str) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` sending every logger, the server's too, through JSON."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonFormatter"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {"_granian": {"level": level}, "granian.access": {"level": level}},
    }


def configure_logging(level: str) -> None:
    logging.config.dictConfig(logging_config(level))
