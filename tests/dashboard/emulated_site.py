"""An emulated Splunk site for the dashboard tests: real content, real rules, replayed events.

What the dashboard's searches see here, and where each piece comes from:

* Lookups ``malicious_image_*``: ``build.py sync`` run on the snapshots in ../shared (October 2024
  last), served through the app's own transforms.conf (KV store lookups read from CSV).
* ``| rest /servicesNS/-/-/saved/searches``: the layered savedsearches.conf of two apps, read by
  path and never copied into the repository:
    - ``malicious_image``: app/default/savedsearches.conf, plus a site local/ that enables
      every rule except "Correlation by User and Risk" (deprecated upstream in October 2024);
    - ``DA-ESS-ContentUpdate`` (ESCU): dist/escu/default/savedsearches.conf of the April 2022
      snapshot (the 2024 snapshot ships an empty dist/), plus a site local/ that enables the ESCU
      rules of the analytic stories in :data:`SITE_ESCU_STORIES`, as a site would.
* Events: the app's CloudTrail sample (samples/cloudtrail_ecr_sample.json) as the Splunk Add-on
  for AWS indexes it; the risk events and notables of ``build.py replay`` over it, for the rules
  the site runs (a disabled rule writes nothing); one scheduler
  log event per enabled app rule and hour over 7 days (the last run carries the replayed result
  count, earlier runs none); one ``malicious_image:sync`` status event per sync run (the 2022,
  2023 and 2024 snapshots three, two and one day ago, then the 2024 one again: unchanged).
* "now" is two hours after the newest sample event, so the sample falls in the 24 h / 7 d windows.
* The sourcetype inventory: one day of events of each sourcetype in :data:`SITE_SOURCETYPES`
  (the Windows event logs a site with the Splunk Add-on for Microsoft Windows indexes, with the
  add-on's own capitalisation), beside the CloudTrail sample; the app's baseline search
  ``Malicious Image - Data Inventory - Update`` runs once at "now" over them (its SPL, from
  savedsearches.conf), as an admin runs it after installing, and keeps
  ``malicious_image_data_inventory``.
* Two modes (:data:`MODES`): ``es`` (Enterprise Security: notables in ``notable``, risk in
  ``risk``) and ``standalone`` (the app's alert action writing to its own indexes); both write
  ``source`` = the search name, as ES and the alert action do.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Sequence

from devtools import replay
from devtools.commands import sync as sync_command
from devtools.conffile import read_conf
from devtools.coverage.inputs import conf_bool, is_enabled, read_saved_searches
from devtools.spl import LookupStore, SearchContext, macros_from_conf, run_search
from devtools.spl.jsonpath import flatten
from malicious_image.sync.tables import TABLE_NAMES
from tests.support.paths import APP, ROOT, SNAPSHOTS

Row = Dict[str, Any]
HOUR = 3600.0
DAY = 86400.0
SAMPLE = ROOT / "samples" / "cloudtrail_ecr_sample.json"
ESCU_APP = "DA-ESS-ContentUpdate"
ESCU_SNAPSHOT = "splunk-security_content-ba8de57.tar.gz"
ESCU_CONF = "dist/escu/default/savedsearches.conf"
SITE_ESCU_STORIES = (
    "Ransomware",
    "Credential Dumping",
    "Malicious PowerShell",
    "Active Directory Kerberos Attacks",
    "Windows Persistence Techniques",
)
SITE_DISABLED_APP_RULES = ("Malicious Image - Correlation by User and Risk - Rule",)
# (snapshot, days before now) of the sync runs, oldest first; the last one is the live content.
SYNC_HISTORY = (
    ("splunk-security_content-ba8de57.tar.gz", 3.0),
    ("splunk-security_content-fe159f0.tar.gz", 2.0),
    ("splunk-security_content-b13b314.tar.gz", 1.0),
    ("splunk-security_content-b13b314.tar.gz", 0.25),
)
TABLES = TABLE_NAMES  # every synced table is a lookup the dashboard may read
SITE_SOURCETYPES = ("XmlWinEventLog", "WinEventLog")
INVENTORY_SEARCH = "Malicious Image - Data Inventory - Update"
ACTIVITY_SEARCH = "Malicious Image - Rule Activity - Update"
# mode -> (notable index, risk index)
MODES = {"es": ("notable", "risk"), "standalone": ("malicious_image_notable", "malicious_image_risk")}


def snapshots_dir() -> Path:
    """../shared/security_content, or $SHARED_DIR/security_content for a worktree elsewhere."""
    if SNAPSHOTS.is_dir():
        return SNAPSHOTS
    return Path(os.environ.get("SHARED_DIR", "/nonexistent")) / "security_content"


@dataclass
class Site:
    """Everything a dashboard search runs against."""

    now: float
    sync_output: Path
    conf_layers: List[str]
    events: List[Row]
    context: SearchContext
    status_events: List[Row]
    mode: str = "es"


def _sync(out: Path, tarball: Path, attack_source: Path | None = None) -> Dict[str, Any]:
    args = ["--source", str(tarball), "--out", str(out), "--quiet"]
    if attack_source is not None:  # the ATT&CK catalogue from a STIX bundle (docs/attack.md)
        args += ["--attack-source", str(attack_source)]
    with contextlib.redirect_stdout(io.StringIO()):
        status = sync_command.main(args)
    if status != 0:
        raise RuntimeError(f"build.py sync of {tarball.name} exited {status}")
    return json.loads((out / "summary.json").read_text(encoding="utf-8"))


def status_event(summary: Dict[str, Any], when: float) -> Row:
    """A sync's summary.json as the malicious_image:sync event Splunk indexes (KV_MODE = json)."""
    event: Row = {name: v[0] if len(v) == 1 else v for name, v in flatten(summary).items()}
    event.update(
        {
            "_time": str(when),
            "_raw": json.dumps(summary),
            "index": "main",
            "host": "sh1",
            "sourcetype": "malicious_image:sync",
            "source": "security_content://default",
        }
    )
    return event


def _escu_conf(workdir: Path) -> Path:
    member = f"{ESCU_SNAPSHOT[: -len('.tar.gz')]}/{ESCU_CONF}"
    target = workdir / ESCU_APP / "default" / "savedsearches.conf"
    target.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(snapshots_dir() / ESCU_SNAPSHOT) as archive:
        target.write_bytes(archive.extractfile(member).read())
    return target


def _enabling_local_conf(path: Path, stanzas: Sequence[str]) -> Path:
    """A local/savedsearches.conf that enables the given stanzas, as an admin's edits would."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"[{name}]\ndisabled = 0\n\n" for name in stanzas), encoding="utf-8")
    return path


def site_conf_layers(workdir: Path) -> List[str]:
    """The ``APP=PATH`` savedsearches.conf layers of the emulated site (see the module docstring)."""
    escu_default = _escu_conf(workdir)
    escu = read_conf(escu_default)
    wanted = set(SITE_ESCU_STORIES)
    enabled = [
        name
        for name, stanza in escu.items()
        if name.endswith(" - Rule") and wanted & set(json.loads(stanza.get("action.escu.analytic_story", "[]")))
    ]
    app_rules = [
        name
        for name in read_conf(APP / "default" / "savedsearches.conf")
        if name.startswith("Malicious Image - ") and name not in SITE_DISABLED_APP_RULES
    ]
    escu_local = _enabling_local_conf(workdir / ESCU_APP / "local" / "savedsearches.conf", enabled)
    app_local = _enabling_local_conf(workdir / "malicious_image" / "local" / "savedsearches.conf", app_rules)
    return [
        f"{ESCU_APP}={escu_default}",
        f"{ESCU_APP}={escu_local}",
        f"malicious_image={APP / 'default' / 'savedsearches.conf'}",
        f"malicious_image={app_local}",
    ]


def rest_provider(conf_layers: Sequence[str]):
    """``| rest`` over the layered confs, shaped like splunkd's saved/searches entries."""
    saved = read_saved_searches(conf_layers)

    def rest(endpoint: str, options: Dict[str, str]) -> List[Row]:
        if endpoint.rstrip("/").split("/")[-2:] != ["saved", "searches"]:
            raise ValueError(f"the emulated site serves only saved/searches, not {endpoint}")
        field, _, wanted = str(options.get("search", "")).partition("=")
        wanted_fields = options.get("f")
        if isinstance(wanted_fields, str):
            wanted_fields = [wanted_fields]
        rows = []
        for (app, title), settings in saved.items():
            row = dict(settings)
            row.update(
                {
                    "title": title,
                    "eai:acl.app": app,
                    "eai:acl.owner": "nobody",
                    "disabled": "1" if conf_bool(settings.get("disabled")) else "0",
                    "is_scheduled": "1" if conf_bool(settings.get("enableSched")) else "0",
                }
            )
            if field and row.get(field) != wanted:  # splunkd's search="field=value" filter
                continue
            if wanted_fields:  # f=: only the named content fields (REST API Reference, "f")
                row = {k: v for k, v in row.items()
                       if k in ("title", "eai:acl.app", "eai:acl.owner") or _f_matches(wanted_fields, k)}
            rows.append(row)
        return rows

    return rest


def _f_matches(patterns: Sequence[str], name: str) -> bool:
    return any(name == p or (p.endswith("*") and name.startswith(p[:-1])) for p in patterns)


def site_macros(macros: Dict[str, Any], mode: str) -> Dict[str, Any]:
    """The app's macros as this site's admin sets them: the index macros name where notables and
    risk events are in this mode (ES's ``notable``/``risk``, or the standalone action's indexes),
    as ``local/macros.conf`` would (docs/rules.md, "One index setting")."""
    notable_index, risk_index = MODES[mode]
    adapted = dict(macros)
    adapted["malicious_image_notable_index"] = f"index={notable_index}"
    adapted["malicious_image_risk_index"] = f"index={risk_index}"
    return adapted


def _inventory_events(now: float) -> List[Row]:
    """One event an hour for a day of each emulated sourcetype (see the module docstring)."""
    return [
        {"_time": str(now - DAY + hour * HOUR), "index": "wineventlog", "sourcetype": sourcetype,
         "source": f"WinEventLog:{sourcetype}", "host": "dc1", "_raw": f"<Event>{sourcetype}</Event>"}
        for sourcetype in SITE_SOURCETYPES
        for hour in range(24)
    ]


def _run_baselines(conf_layers: Sequence[str], events: List[Row], context: SearchContext) -> None:
    """Run the app's two dashboard baselines once at "now", as an admin does after installing:
    the data inventory as it is, the rule activity seeded over 7 days (its documented seed run)."""
    saved = read_saved_searches(conf_layers)
    runs = (
        (INVENTORY_SEARCH, saved[("malicious_image", INVENTORY_SEARCH)]["search"], "malicious_image_data_inventory"),
        (ACTIVITY_SEARCH, saved[("malicious_image", ACTIVITY_SEARCH)]["search"]
         .replace("earliest=-70m@m latest=-10m@m", "earliest=-7d@h latest=now"), "malicious_image_rule_activity"),
    )
    for title, spl, lookup in runs:
        if "earliest=-7d@h latest=now" not in spl and title == ACTIVITY_SEARCH:
            raise RuntimeError(f"{title}: its time window changed; update the seed run here")
        run_search(spl, events, context)
        if lookup not in context.lookups.written:
            raise RuntimeError(f"{title} wrote no {lookup}")


def _scheduler_events(conf_layers: Sequence[str], results: Dict[str, int], now: float) -> List[Row]:
    events = []
    for (app, title), settings in read_saved_searches(conf_layers).items():
        if app != "malicious_image" or not title.endswith(" - Rule") or not is_enabled(settings):
            continue
        last = now - now % HOUR
        for hour in range(7 * 24):
            when = last - hour * HOUR
            count = results.get(title, 0) if hour == 0 else 0
            events.append(
                {
                    "_time": str(when + 40),
                    "index": "_internal",
                    "sourcetype": "scheduler",
                    "source": "scheduler.log",
                    "host": "sh1",
                    "savedsearch_name": title,
                    "app": app,
                    "status": "success",
                    "result_count": str(count),
                    "run_time": "0.412",
                    "scheduled_time": str(int(when)),
                    "_raw": f"savedsearch_name={title}",
                }
            )
    return events


def build_site(workdir: Path, mode: str = "es", attack_source: Path | None = None) -> Site:
    """Sync, replay and lay out the emulated site in ``workdir`` (about 10 s); ``mode`` is a key
    of :data:`MODES`; ``attack_source`` a STIX bundle every sync reads its ATT&CK catalogue from
    (``build.py sync --attack-source``; default: the content's own CSV catalogue)."""
    notable_index, risk_index = MODES[mode]
    cloudtrail = replay.load_events(SAMPLE)
    now = max(float(e["_time"]) for e in cloudtrail) + 2 * HOUR
    sync_output = workdir / "sync"
    status_events = [
        status_event(_sync(sync_output, snapshots_dir() / tarball, attack_source), now - days * DAY)
        for tarball, days in SYNC_HISTORY
    ]
    kvstore = workdir / "kvstore"
    kvstore.mkdir(exist_ok=True)
    for table in TABLES:
        (kvstore / f"malicious_image_{table}.csv").symlink_to((sync_output / f"{table}.csv").resolve())

    conf_layers = site_conf_layers(workdir)
    running = {title for (app, title), s in read_saved_searches(conf_layers).items() if is_enabled(s)}
    outcome = replay.replay_events(cloudtrail)
    risk, notable, results = [], [], {}
    for result in outcome.results:
        if result.stanza not in running:
            continue
        results[result.stanza] = len(result.rows)
        risk += replay.risk_events_as_splunk(result.risks, index=risk_index)
        notable += replay.risk_events_as_splunk(result.notables, index=notable_index)
    for event in risk + notable:  # ES and the standalone action both set source to the search name
        event["source"] = event.get("search_name", "")
    if mode == "standalone":  # the app's alert action's sourcetypes (malicious_image/splunkd/alert_action.py)
        for event in risk:
            event["sourcetype"] = "malicious_image:risk"
        for event in notable:
            event["sourcetype"] = "malicious_image:notable"
    events = (cloudtrail + risk + notable + _scheduler_events(conf_layers, results, now) + status_events
              + _inventory_events(now))
    context = SearchContext(
        macros=site_macros(macros_from_conf(read_conf(APP / "default" / "macros.conf")), mode),
        lookups=LookupStore(
            definitions=read_conf(APP / "default" / "transforms.conf"),
            lookup_dirs=[APP / "lookups"],
            kvstore_dir=kvstore,
        ),
        rest=rest_provider(conf_layers),
        now=now,
    )
    _run_baselines(conf_layers, events, context)
    return Site(now, sync_output, conf_layers, events, context, status_events, mode)
