"""The app's log: ``$SPLUNK_HOME/var/log/splunk/malicious_image.log``, rotating, key=value lines.

Splunk indexes ``$SPLUNK_HOME/var/log/splunk/*.log`` into ``_internal`` by itself, so these lines
are searchable with ``index=_internal source=*malicious_image.log``. Without ``SPLUNK_HOME`` (tests,
the offline command) the log goes to stderr.

Secrets (the GitHub token, the proxy password) are registered with :func:`register_secret` as
soon as they are read; a filter on the handler replaces every registered value by ``********`` in
every line, including exception text. :func:`redact` does the same for text that leaves by another
way (status events, messages).

Examples::

    log = get_logger()
    register_secret(token)
    log.info(kv(event="sync_done", outcome="updated", commit="b13b314", seconds=4.2))
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
import threading

LOGGER_NAME = "malicious_image"
LOG_FILE_NAME = "malicious_image.log"
MAX_BYTES = 10 * 1024 * 1024
BACKUP_COUNT = 5
MASK = "********"

_secrets: set[str] = set()
_secrets_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Remember ``value`` so that it is masked in every log line and in :func:`redact`."""
    if value and len(value) >= 4:
        with _secrets_lock:
            _secrets.add(value)


def redact(text: str) -> str:
    """Return ``text`` with every registered secret replaced by ``********``."""
    with _secrets_lock:
        values = sorted(_secrets, key=len, reverse=True)
    for value in values:
        if value in text:
            text = text.replace(value, MASK)
    return text


def kv(**fields: object) -> str:
    """Format fields as ``key=value`` pairs, quoting values with spaces, quotes or ``=``."""
    parts = []
    for key, value in fields.items():
        text = "" if value is None else str(value)
        if not text or any(c in text for c in ' "=\n\t'):
            text = '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
        parts.append(f"{key}={text}")
    return " ".join(parts)


class RedactingFilter(logging.Filter):
    """Masks registered secrets in a record's message, arguments and exception text."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
            record.exc_text = None
        record.msg = redact(message)
        record.args = None
        return True


def log_path() -> str | None:
    """The log file's path, or None when ``SPLUNK_HOME`` is unset."""
    home = os.environ.get("SPLUNK_HOME")
    if not home:
        return None
    return os.path.join(home, "var", "log", "splunk", LOG_FILE_NAME)


def get_logger(level: int = logging.INFO) -> logging.Logger:
    """Return the app's logger, set up once per process (file under SPLUNK_HOME, else stderr)."""
    logger = logging.getLogger(LOGGER_NAME)
    if getattr(logger, "_malicious_image_ready", False):
        return logger
    path = log_path()
    handler: logging.Handler
    try:
        if path is None:
            raise OSError("SPLUNK_HOME is not set")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=MAX_BYTES, backupCount=BACKUP_COUNT, encoding="utf-8", delay=True
        )
    except OSError:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter(
            "%(asctime)s level=%(levelname)s pid=%(process)d logger=%(name)s %(message)s",
            datefmt="%Y-%m-%dT%H:%M:%S%z",
        )
    )
    handler.addFilter(RedactingFilter())
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    logger._malicious_image_ready = True  # type: ignore[attr-defined]
    return logger
