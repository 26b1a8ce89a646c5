"""Custom alert action ``malicious_image_notable``: notables and risk events without Enterprise Security.

splunkd runs ``bin/malicious_image_notable.py --execute`` with a JSON payload on stdin (Developing
Views and Apps, "Custom alert action script"): ``app``, ``owner``, ``results_file`` (gzipped CSV of
the results), ``results_link``, ``search_uri``, ``server_host``, ``server_uri``, ``session_key``,
``sid``, ``search_name``, ``configuration`` (the action's ``param.*`` values, alert_actions.conf
defaults merged with the saved search's) and ``result`` (the first result row).

The action writes one notable event per result row (when the rule raises notables) and the risk
events of every row through ``services/receivers/simple`` of the payload's ``server_uri``, with
the payload's session key, through the one splunkd client
(:mod:`malicious_image.splunkd.client`): TLS verified against ``param.ca_file`` when set, else the
CA splunkd uses (server.conf ``[sslConfig] sslRootCAPath``, else ``etc/auth/cacert.pem``). An
event is sent once (no retry: ``receivers/simple`` is not idempotent).

Mode (``param.mode`` in alert_actions.conf, one setting for the whole app):

- ``auto`` (default): asks splunkd whether Enterprise Security is installed and enabled
  (``apps/local/SplunkEnterpriseSecuritySuite``; an app with ``disabled = 1`` counts as absent, as
  splunkd does not run a disabled app's searches or actions). With ES the action does nothing, because ES's own
  ``notable`` and ``risk`` actions (also in every rule) write them; without ES it writes them.
- ``standalone``: always write (even if ES is present, e.g. to a separate index for testing).
- ``es``: never write (ES only).

Exit codes: 0 done (or nothing to do), 2 bad payload or settings, 3 splunkd refused or unreachable.
Messages go to stderr, which splunkd logs in splunkd.log; the session key is never printed.
"""

from __future__ import annotations

import csv
import gzip
import json
import os
import sys
import time
from typing import IO, Any, Dict, List, Mapping, Sequence

from malicious_image import alerting
from malicious_image.settings import is_true
from malicious_image.splunkd.client import SplunkdClient, SplunkdConfigError, SplunkdError

MODES = ("auto", "standalone", "es")
ES_APP = "SplunkEnterpriseSecuritySuite"
NOTABLE_SOURCETYPE = alerting.NOTABLE_SOURCETYPE
RISK_SOURCETYPE = alerting.RISK_SOURCETYPE
TIMEOUT_SECONDS = 30
EXIT_OK = 0  # done, or nothing to do
EXIT_BAD_INPUT = 2  # bad payload or settings (splunkd logs the exit code and stderr)
EXIT_SPLUNKD = 3  # splunkd refused or could not be reached
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


class AlertActionError(RuntimeError):
    """The action cannot run; ``exit_code`` says whether the payload or splunkd is at fault."""

    def __init__(self, message: str, exit_code: int = EXIT_BAD_INPUT) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def read_payload(stream: IO[str]) -> Dict[str, Any]:
    """Parse the JSON payload splunkd writes to stdin.

    Raises:
        AlertActionError: not JSON, or a required key is missing.
    """
    try:
        payload = json.load(stream)
    except json.JSONDecodeError as exc:
        raise AlertActionError(
            f"the payload on stdin is not JSON ({exc.msg}); is payload_format = json set?"
        ) from exc
    if not isinstance(payload, dict):
        raise AlertActionError("the payload on stdin must be a JSON object")
    missing = [
        key for key in ("search_name", "server_uri", "session_key", "results_file") if not payload.get(key)
    ]
    if missing:
        raise AlertActionError(f"the payload lacks {', '.join(missing)}")
    return payload


def read_results(path: str) -> List[Dict[str, Any]]:
    """Read the gzipped CSV results file; ``__mv_<field>`` columns give multivalues (``$a$;$b$``).

    Raises:
        AlertActionError: the file is missing or not a gzipped CSV.
    """
    try:
        with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, EOFError, csv.Error, UnicodeDecodeError) as exc:
        raise AlertActionError(f"cannot read the results file {path}: {exc}") from exc
    return [_decode_row(row) for row in rows]


def _decode_mv(encoded: str) -> List[str]:
    values: List[str] = []
    for part in encoded.split("$;$"):
        values.append(part.strip("$").replace("$$", "$"))
    return values


def _decode_row(row: Mapping[str, str | None]) -> Dict[str, Any]:
    decoded: Dict[str, Any] = {}
    for key, value in row.items():
        if key is None or key.startswith("__mv_"):
            continue
        mv = row.get(f"__mv_{key}")
        if mv:
            decoded[key] = _decode_mv(mv)
        elif value not in (None, ""):
            decoded[key] = value
    return decoded


class Splunkd:
    """The few splunkd REST calls the action makes, over :class:`SplunkdClient`."""

    def __init__(self, server_uri: str, session_key: str, *, ca_file: str = "") -> None:
        try:
            self.client = SplunkdClient(
                server_uri, session_key, verify=ca_file or None, timeout=TIMEOUT_SECONDS, retry_delays=()
            )
        except SplunkdConfigError as exc:
            raise AlertActionError(str(exc)) from None
        self.base = self.client.base

    def has_enterprise_security(self) -> bool:
        """True when the Enterprise Security app is installed and enabled (``apps/local``)."""
        try:
            answer = self.client.call(
                "GET", self.client.global_url(f"apps/local/{ES_APP}"), params={"output_mode": "json"}, ok=(200, 404)
            )
        except SplunkdError as exc:
            reason = self._reason(exc, f"when asked whether {ES_APP} is installed")
            raise AlertActionError(reason, EXIT_SPLUNKD) from None
        if answer.status_code == 404:
            return False
        try:
            disabled = answer.json()["entry"][0]["content"].get("disabled", False)
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            raise AlertActionError(f"splunkd answered apps/local/{ES_APP} without its settings", EXIT_SPLUNKD) from None
        return not is_true(disabled)

    def send_event(
        self, event: Mapping[str, Any], *, index: str, sourcetype: str, source: str, host: str
    ) -> None:
        """POST one event (JSON) to ``receivers/simple`` (once: a retry could index it twice)."""
        query = {"index": index, "sourcetype": sourcetype, "source": source}
        if host:
            query["host"] = host
        body = json.dumps(event, sort_keys=False, default=str).encode("utf-8")
        try:
            self.client.call("POST", self.client.global_url("receivers/simple"), params=query, data=body, retry=False)
        except SplunkdError as exc:
            if exc.status is None:
                raise AlertActionError(self._reason(exc, ""), EXIT_SPLUNKD) from None
            raise AlertActionError(
                f"splunkd refused the event for index {index!r} (HTTP {exc.status}); does the index exist "
                f"and may the search owner write to it?",
                EXIT_SPLUNKD,
            ) from None

    def _reason(self, exc: SplunkdError, when: str) -> str:
        if exc.status is not None:
            return f"splunkd answered {exc.status} {when}"
        return f"cannot reach splunkd at {self.base}: {exc}"


# app/bin/malicious_image/splunkd/alert_action.py -> app/
APP_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def app_macro_index(macro: str, app_dir: str = APP_DIR) -> str:
    """The index named by one of the app's index macros (local/ over default/ macros.conf): the
    one setting the rules, the correlations, the dashboard and this action follow."""
    texts = []
    for layer in ("local", "default"):
        path = os.path.join(app_dir, layer, "macros.conf")
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as handle:
                texts.append(handle.read())
    definition = alerting.macro_definition(texts, macro)
    if definition is None:
        raise alerting.AlertSettingsError(f"macro {macro} is not defined in {app_dir}/default/macros.conf")
    return alerting.index_from_macro(definition, macro)


def resolve_mode(config: Mapping[str, str], splunkd: Splunkd) -> str:
    """Return ``standalone`` or ``es`` from ``param.mode`` (``auto`` asks splunkd)."""
    mode = (config.get("mode") or "auto").strip().lower()
    if mode not in MODES:
        raise AlertActionError(f"param.mode must be one of {', '.join(MODES)}, not {mode!r}")
    if mode == "auto":
        return "es" if splunkd.has_enterprise_security() else "standalone"
    return mode


def run(payload: Mapping[str, Any], *, now: float | None = None) -> Dict[str, int]:
    """Run the action for one payload; return counts of notables and risk events written."""
    config: Dict[str, str] = {str(k): str(v) for k, v in (payload.get("configuration") or {}).items()}
    settings = alerting.settings_from_params(str(payload["search_name"]), config)
    ca_file = (config.get("ca_file") or "").strip()
    splunkd = Splunkd(str(payload["server_uri"]), str(payload["session_key"]), ca_file=ca_file)
    mode = resolve_mode(config, splunkd)
    if mode == "es":
        return {"notables": 0, "risk_events": 0, "mode_es": 1}
    per_result = is_true(config.get("per_result", "0"))
    rows = alerting.triggering_rows(
        per_result, payload.get("result"), lambda: read_results(str(payload["results_file"]))
    )
    notables, risks = alerting.build_events(
        rows, settings, time=now if now is not None else time.time(), sid=str(payload.get("sid") or "")
    )
    host = str(payload.get("server_host") or "")
    notable_index = config.get("notable_index") or app_macro_index(alerting.NOTABLE_INDEX_MACRO)
    risk_index = config.get("risk_index") or app_macro_index(alerting.RISK_INDEX_MACRO)
    for event in notables:
        splunkd.send_event(
            event, index=notable_index, sourcetype=NOTABLE_SOURCETYPE, source=settings.search_name, host=host
        )
    for event in risks:
        splunkd.send_event(
            event, index=risk_index, sourcetype=RISK_SOURCETYPE, source=settings.search_name, host=host
        )
    return {"notables": len(notables), "risk_events": len(risks), "mode_es": 0}


def main(argv: Sequence[str], stdin: IO[str] = sys.stdin, stderr: IO[str] = sys.stderr) -> int:
    """Entry point of ``bin/malicious_image_notable.py``; return the exit code."""
    if len(argv) < 2 or argv[1] != "--execute":
        print(
            "malicious_image_notable: run by splunkd with --execute and a JSON payload on stdin", file=stderr
        )
        return EXIT_BAD_INPUT
    try:
        payload = read_payload(stdin)
        counts = run(payload)
    except alerting.AlertSettingsError as exc:
        print(f"ERROR malicious_image_notable: bad settings: {exc}", file=stderr)
        return EXIT_BAD_INPUT
    except AlertActionError as exc:
        print(f"ERROR malicious_image_notable: {exc}", file=stderr)
        return exc.exit_code
    name = payload.get("search_name", "")
    if counts.get("mode_es"):
        print(
            f"INFO malicious_image_notable: search={name!r} mode=es, Enterprise Security writes notables and "
            "risk",
            file=stderr,
        )
    else:
        print(
            f"INFO malicious_image_notable: search={name!r} notables={counts['notables']} "
            f"risk_events={counts['risk_events']}",
            file=stderr,
        )
    return EXIT_OK
