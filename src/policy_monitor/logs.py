"""Logging set-up: readable lines on a terminal, JSON lines (`--log-format json`) for services, on stderr.

Our own loggers (`policy_monitor.*`) and the scheduler's (`apscheduler.*`: missed runs, job errors) share one
handler, so every line on stderr has the chosen format. Data and the run's summary line go to stdout
(printed by the command, not logged).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

LOGGERS = ("policy_monitor", "apscheduler")  # written by our handler
QUIET_LIBRARIES = ("httpx", "httpcore", "apscheduler")  # their INFO lines are noise for us
FIELDS = ("vendor", "url", "outcome", "summary")  # `extra=` keys copied into JSON lines


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO-8601), level, logger, message, and the extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in FIELDS:
            if hasattr(record, key):
                out[key] = getattr(record, key)
        if record.exc_info:
            out["error"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def text_formatter(stream: Any) -> logging.Formatter:
    """`12:00:01 INFO message` on a terminal; with the date when written to a file or a journal."""
    tty = hasattr(stream, "isatty") and stream.isatty()
    return logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S" if tty else "%Y-%m-%d %H:%M:%S")


def setup(fmt: str = "text", level: int = logging.INFO, quiet: bool = False) -> None:
    """Send our log lines to stderr in `fmt` ("text" or "json"); `quiet`: errors only."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else text_formatter(sys.stderr))
    for name in LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.addHandler(handler)
        logger.propagate = False
    logging.getLogger("policy_monitor").setLevel(logging.ERROR if quiet else level)
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.ERROR if quiet else logging.WARNING)
