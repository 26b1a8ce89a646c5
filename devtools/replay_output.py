"""Print a replay: JSON lines for machines, tables for a SOC analyst."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Dict, List, Sequence

from devtools.replay import Outcome

MAX_CELL = 48
RISK_COLUMNS = ["risk_object", "risk_object_type", "risk_score", "threat_object", "risk_message"]
NOTABLE_COLUMNS = ["severity", "rule_title", "risk_object", "mitre_attack_technique"]


def _plain(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return value


def jsonl(outcome: Outcome) -> str:
    """One JSON object per line: ``kind`` (result, risk, notable), ``rule`` and the row's fields."""
    lines: List[str] = []
    for result in outcome.results:
        for kind, rows in (("result", result.rows), ("risk", result.risks), ("notable", result.notables)):
            for row in rows:
                item: Dict[str, Any] = {"kind": kind, "rule": result.rule}
                item.update({k: _plain(v) for k, v in row.items() if k not in ("kind", "rule")})
                lines.append(json.dumps(item, sort_keys=False, default=str))
    return "\n".join(lines) + ("\n" if lines else "")


def _cell(value: Any) -> str:
    text = "|".join(str(v) for v in value) if isinstance(value, (list, tuple)) else str(value)
    text = " ".join(text.split())
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def _grid(rows: Sequence[Dict[str, Any]], columns: Sequence[str]) -> List[str]:
    cells = [[_cell(row.get(c, "")) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    line = "  ".join(c.ljust(w) for c, w in zip(columns, widths))
    out = ["  " + line, "  " + "  ".join("-" * w for w in widths)]
    out += ["  " + "  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in cells]
    return out


def _columns(rows: Sequence[Dict[str, Any]]) -> List[str]:
    seen: List[str] = []
    for row in rows:
        for key in row:
            if key not in seen and not key.startswith("_"):
                seen.append(key)
    return seen


def table(outcome: Outcome) -> str:
    """Readable report: per rule its result rows, then its risk events and notables."""
    when = datetime.fromtimestamp(outcome.now, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    mode = "dispatch windows relative to now" if outcome.windowed else "windows off: every record"
    out = [f"Replay at {when} ({mode})", ""]
    if outcome.baseline_rows:
        out.append(f"Known pushers learned from the 30 days before the window: "
                   f"{', '.join(str(r.get('user')) for r in outcome.baseline_rows)}")
        out.append("")
    for result in outcome.results:
        out.append(f"== {result.rule}: {len(result.rows)} result rows")
        if result.rows:
            columns = _columns(result.rows)
            common = [c for c in columns if len(result.rows) > 1
                      and all(_cell(r.get(c, "")) == _cell(result.rows[0].get(c, "")) for r in result.rows)]
            if common:
                out.append("   same in every row: " + ", ".join(f"{c}={_cell(result.rows[0].get(c, ''))}"
                                                            for c in common))
            out += _grid(result.rows, [c for c in columns if c not in common])
        if result.risks:
            out.append(f"   risk events ({len(result.risks)}):")
            out += _grid(result.risks, RISK_COLUMNS)
        if result.notables:
            out.append(f"   notables ({len(result.notables)}):")
            out += _grid(result.notables, NOTABLE_COLUMNS)
        out.append("")
    out.append(f"{sum(1 for r in outcome.results if r.rows)} of {len(outcome.results)} rules fired; "
               f"{len(outcome.risks)} risk events; {len(outcome.notables)} notables")
    return "\n".join(out) + "\n"
