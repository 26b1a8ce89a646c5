"""The offline CSV writer: Splunk's CSV shape, whole generations switched at once, the state file."""

from __future__ import annotations

import csv
import json
import os

import pytest

from malicious_image.sync.csv_writer import (
    CsvTableWriter,
    JsonStateStore,
    SyncLockedError,
    csv_value,
    read_csv,
)
from malicious_image.sync.state import StateError, SyncState

pytestmark = pytest.mark.runtime


def _tables(label: str) -> dict:
    return {
        "detections": [
            {"id": "1", "name": f"Rule {label}", "mitre_attack_id": ["T1204.003", "T1204"], "risk_score": 49},
            {"id": "2", "name": 'Quote " and, comma', "mitre_attack_id": [], "risk_score": None},
        ],
        "macros": [{"name": f"m_{label}", "definition": "search *\n| head 1"}],
    }


def test_values_render_as_splunk_csv_lookups_hold_them():
    assert csv_value(["T1204.003", "T1204"]) == "T1204.003\nT1204"
    assert (csv_value(None), csv_value(True), csv_value(49), csv_value([])) == ("", "1", "49", "")


def test_tables_written_with_header_and_multivalue_cells(tmp_path):
    CsvTableWriter(tmp_path).replace_tables(_tables("a"), "1-x")
    with (tmp_path / "detections.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["id", "name", "mitre_attack_id", "risk_score"]
    assert rows[1] == ["1", "Rule a", "T1204.003\nT1204", "49"]
    assert rows[2] == ["2", 'Quote " and, comma', "", ""]
    assert read_csv(tmp_path / "detections.csv")[0]["mitre_attack_id"] == ["T1204.003", "T1204"]


def test_new_generation_replaces_every_table_at_once(tmp_path):
    writer = CsvTableWriter(tmp_path)
    writer.replace_tables(_tables("a"), "1-x")
    old = writer.current
    held = (tmp_path / "detections.csv").open(encoding="utf-8")  # a reader in the middle of a read
    writer.replace_tables(_tables("b"), "2-y")
    assert writer.current != old and writer.current.name == "2-y"
    assert os.readlink(tmp_path / "current") == os.path.join("generations", "2-y")
    assert read_csv(tmp_path / "detections.csv")[0]["name"] == "Rule b"
    assert read_csv(tmp_path / "macros.csv")[0]["name"] == "m_b"
    assert "Rule a" in held.read()  # the old generation stays whole for a reader that holds it
    held.close()
    assert read_csv(old / "macros.csv")[0]["name"] == "m_a"


def test_only_current_and_previous_generations_are_kept(tmp_path):
    writer = CsvTableWriter(tmp_path)
    for number in range(1, 5):
        writer.replace_tables(_tables(str(number)), f"{number}-t")
    assert sorted(p.name for p in (tmp_path / "generations").iterdir()) == ["3-t", "4-t"]


def test_leftovers_of_a_killed_run_are_cleaned_and_ignored(tmp_path):
    writer = CsvTableWriter(tmp_path)
    writer.replace_tables(_tables("a"), "1-x")
    half = tmp_path / "generations" / ".tmp-killed"
    half.mkdir()
    (half / "detections.csv").write_text("id,name\n1,half written")
    assert read_csv(tmp_path / "detections.csv")[0]["name"] == "Rule a"
    writer.replace_tables(_tables("b"), "2-y")
    assert not half.exists()


def test_same_generation_name_twice_does_not_clobber_the_current_one(tmp_path):
    writer = CsvTableWriter(tmp_path)
    writer.replace_tables(_tables("a"), "1-x")
    writer.replace_tables(_tables("b"), "1-x")
    assert read_csv(tmp_path / "detections.csv")[0]["name"] == "Rule b"


def test_second_run_on_the_same_folder_is_refused(tmp_path):
    writer = CsvTableWriter(tmp_path)
    with writer.lock():
        with pytest.raises(SyncLockedError, match="another sync"):
            with CsvTableWriter(tmp_path).lock():
                pass
    with writer.lock():  # released
        pass


def test_json_state_store_round_trip_and_damage(tmp_path):
    store = JsonStateStore(tmp_path / "sync_state.json")
    assert store.load() is None
    state = SyncState(repository="r", ref="develop", commit="c" * 40, etag='"e"', blobs={"a.yml": "1" * 40},
                      generation="3-t", outcome="updated", counts={"detections": 2})  # fmt: skip
    store.save(state)
    assert store.load() == state
    assert json.loads((tmp_path / "sync_state.json").read_text())["format"] == 1
    (tmp_path / "sync_state.json").write_text("{not json")
    with pytest.raises(StateError, match="not a valid sync state"):
        store.load()


def test_a_state_the_tables_do_not_show_is_ignored_so_the_next_run_is_a_full_sync(tmp_path):
    # kill -9 between the `current` switch and the state save leaves the new tables with the old
    # state; if upstream then went back to the old commit, trusting the state would say "unchanged"
    # and keep tables that match no upstream (found by tests/integration/test_offline_sync_crash.py)
    writer = CsvTableWriter(tmp_path / "out")
    store = JsonStateStore(tmp_path / "out" / "sync_state.json", writer)
    writer.replace_tables(_tables("old"), "1-t")
    old = SyncState(repository="r", commit="a" * 40, generation="1-t", outcome="updated")
    store.save(old)
    assert store.load() == old
    writer.replace_tables(_tables("new"), "2-t")  # ... killed here, before store.save(new state)
    assert store.load() is None
    assert JsonStateStore(tmp_path / "out" / "sync_state.json").load() == old  # without the writer: as before
    writer.replace_tables(_tables("new"), "1-t")  # a generation name that exists: its mkdtemp twin
    assert store.load() == old


def test_taking_the_lock_removes_a_killed_runs_leftovers(tmp_path):
    # a run killed while staging leaves generations/.tmp-*; the next run may find upstream unchanged
    # and write nothing, so the leftovers go when it takes the lock, not only when it writes
    writer = CsvTableWriter(tmp_path / "out")
    writer.replace_tables(_tables("old"), "1-t")
    staging = tmp_path / "out" / "generations" / ".tmp-killed"
    staging.mkdir()
    (staging / "detections.csv").write_text("id\n1\n")
    (tmp_path / "out" / ".tmp-current-999").symlink_to("generations/1-t")
    with writer.lock():
        pass
    assert sorted(p.name for p in (tmp_path / "out" / "generations").iterdir()) == ["1-t"]
    assert not list((tmp_path / "out").glob(".tmp-*"))
    assert len(read_csv(tmp_path / "out" / "detections.csv")) == 2
