"""Persistent REST handler malicious_image_layer (restmap.conf): the ATT&CK Navigator layer as a
file download; the work is in malicious_image.layer_handler."""

from __future__ import annotations

import os
import sys
from typing import Any

BIN = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(BIN), "lib"))
if BIN not in sys.path:
    sys.path.insert(0, BIN)

from malicious_image.layer_handler import handle_json  # noqa: E402

try:  # only inside Splunk's Python
    from splunk.persistconn.application import PersistentServerConnectionApplication
except ImportError:  # pragma: no cover - outside Splunk (tests call handle_json directly)
    PersistentServerConnectionApplication = object


class LayerHandler(PersistentServerConnectionApplication):
    """splunkd creates one per process and calls ``handle`` with each request's JSON."""

    def __init__(self, command_line: Any = None, command_arg: Any = None) -> None:
        if PersistentServerConnectionApplication is not object:
            PersistentServerConnectionApplication.__init__(self)

    def handle(self, in_string: Any) -> dict:
        return handle_json(in_string)
