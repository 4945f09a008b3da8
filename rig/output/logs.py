"""``-v``: rig's log records (HTTP requests, from ``rig.http``) on stderr."""

from __future__ import annotations

import logging
import sys

_HANDLER_NAME = "rig-verbose"


def configure_verbose(level: int) -> None:
    """Show ``rig.*`` records on stderr: INFO with ``-v``, DEBUG with ``-vv``. Idempotent."""
    if level <= 0:
        return
    logger = logging.getLogger("rig")
    if not any(h.get_name() == _HANDLER_NAME for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.set_name(_HANDLER_NAME)
        handler.setFormatter(logging.Formatter("rig: %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if level > 1 else logging.INFO)
    logger.propagate = False
