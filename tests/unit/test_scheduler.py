"""The scheduler simulation (devtools/scheduler.py), against savedsearches.conf.spec's rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from devtools import replay, scheduler

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "scheduler" / "shipped_rules_seed7_3h.txt"
START = replay.parse_now("2026-11-21T00:00:00Z")


def stanza(**keys: str) -> dict:
    base = {"enableSched": "1", "cron_schedule": "0 * * * *", "dispatch.earliest_time": "-70m@m"}
    base["dispatch.latest_time"] = "-10m@m"
    base.update({k.replace("__", "."): v for k, v in keys.items()})
    return base


def test_shipped_rules_dispatch_as_the_golden_file_says():
    """Every scheduled stanza as shipped: one run an hour each, at cron time + its skew."""
    app = replay.App.load()
    dispatches = scheduler.simulate(app.savedsearches, START, 3, seed=7)
    assert scheduler.render(dispatches) == GOLDEN.read_text()
    names = {d.name for d in dispatches}
    # seven rules, the known-pushers baseline and the dashboard's rule activity (hourly), three
    # hours; and the daily data inventory once
    assert len(names) == 10 and len(dispatches) == 28


def test_skew_is_constant_per_search_and_within_allow_skew():
    stanzas = {f"s{n}": stanza(allow_skew="25%") for n in range(20)}
    runs = scheduler.simulate(stanzas, START, 4, seed=3)
    for name in stanzas:
        offsets = {d.now - d.scheduled for d in runs if d.name == name}
        assert len(offsets) == 1 and 0 <= offsets.pop() < 900
    assert len({d.now - d.scheduled for d in runs}) > 5  # searches spread out
    other = scheduler.simulate(stanzas, START, 1, seed=4)
    assert [d.now for d in other] != [d.now for d in runs[:20]]


def test_window_is_relative_to_the_skewed_dispatch_time():
    (run,) = scheduler.simulate({"a": stanza(allow_skew="10m")}, START, 1, seed=1)
    assert run.scheduled == START and 0 <= run.now - START < 600
    assert run.earliest == (run.now // 60) * 60 - 70 * 60 and run.latest == (run.now // 60) * 60 - 10 * 60


def test_allow_skew_zero_runs_exactly_at_cron_time_and_unscheduled_stanzas_never_run():
    stanzas = {"a": stanza(allow_skew="0", cron_schedule="30 */2 * * *"), "b": {"search": "x"}}
    runs = scheduler.simulate(stanzas, START, 6, seed=9)
    assert [(d.name, d.now - START) for d in runs] == [("a", 1800.0), ("a", 9000.0), ("a", 16200.0)]


def test_busy_scheduler_skips_realtime_searches_and_delays_continuous_ones():
    busy = [(START + 3600, START + 3600 + 300)]
    stanzas = {"skips": stanza(), "never_skips": stanza(realtime_schedule="0")}
    runs = scheduler.simulate(stanzas, START, 3, busy=busy)
    assert [d.scheduled - START for d in runs if d.name == "skips"] == [0.0, 7200.0]
    late = [d for d in runs if d.name == "never_skips" and d.scheduled == START + 3600]
    assert len(late) == 1 and late[0].delayed and late[0].now == START + 3900
    assert late[0].latest == START + 3600 - 600  # the time range of its scheduled time: no gap


@pytest.mark.parametrize(
    ("cron", "skew"), [("0 0 1 * *", "0"), ("61 * * * *", "0"), ("0 * * * *", "150%"), ("0 * * * *", "soon")]
)
def test_unsupported_or_bad_schedules_raise(cron, skew):
    with pytest.raises(scheduler.ScheduleError):
        scheduler.simulate({"a": stanza(cron_schedule=cron, allow_skew=skew)}, START, 1)


def test_throttling_is_per_field_value_in_per_result_mode():
    conf = stanza(alert__suppress="1", alert__suppress__fields="user", alert__suppress__period="3h")
    conf["alert.digest_mode"] = "0"
    until: dict = {}
    first, silenced = scheduler.suppressed_rows(conf, [{"user": "eve"}], START, until)
    assert first == [{"user": "eve"}] and silenced == []
    later, silenced = scheduler.suppressed_rows(conf, [{"user": "eve"}, {"user": "bob"}], START + 7200, until)
    assert later == [{"user": "bob"}] and silenced == [{"user": "eve"}]
    again, _ = scheduler.suppressed_rows(conf, [{"user": "eve"}], START + 3 * 3600, until)
    assert again == [{"user": "eve"}]  # the period is over
    conf["alert.digest_mode"] = "1"
    whole: dict = {}
    scheduler.suppressed_rows(conf, [{"user": "eve"}], START, whole)
    assert scheduler.suppressed_rows(conf, [{"user": "bob"}], START + 60, whole)[0] == []


def test_build_py_replay_schedule_prints_each_run_and_the_totals(capsys):
    from devtools.commands import replay as replay_command

    sample = Path(replay.ROOT) / "samples" / "cloudtrail_ecr_sample.json"
    code = replay_command.main(
        ["--events", str(sample), "--schedule", "6", "--start", "2026-11-21T00:00:00Z", "--seed", "7"]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert out.splitlines()[-1] == "48 runs over 6 h (seed 7); 17 risk events, 7 notables"
    assert "Correlation by User and Risk: 2 rows, 2 throttled, 0 risk events, 0 notables" in out


def test_large_sample_is_the_generators_output():
    from devtools.cloudtrail import large

    assert large.main(["--check"]) == 0
