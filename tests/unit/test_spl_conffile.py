"""devtools.conffile: Splunk .conf syntax as the evaluator reads macros.conf and transforms.conf."""

from __future__ import annotations

import pytest

from devtools.conffile import ConfParseError, parse_conf, read_conf, with_defaults


def test_stanzas_and_settings():
    conf = parse_conf(
        "[cloudtrail]\ndefinition = sourcetype=aws:cloudtrail\n[risk_index]\ndefinition=index=risk\n"
    )
    assert conf == {
        "cloudtrail": {"definition": "sourcetype=aws:cloudtrail"},
        "risk_index": {"definition": "index=risk"},
    }


def test_settings_before_any_stanza_and_explicit_default_merge():
    conf = parse_conf("disabled = 1\n[default]\nowner = admin\n[a]\nx = 1\n")
    assert conf["default"] == {"disabled": "1", "owner": "admin"}
    assert with_defaults(conf) == {"a": {"disabled": "1", "owner": "admin", "x": "1"}}


def test_comments_only_at_line_start():
    conf = parse_conf("# a comment\n  # indented comment\n[a]\nsearch = index=x # not a comment\n")
    assert conf == {"a": {"search": "index=x # not a comment"}}


def test_backslash_continuation_keeps_line_breaks():
    conf = parse_conf("[r]\nsearch = index=x \\\n| stats count \\\n| where count > 1\nnext = y\n")
    assert conf["r"] == {"search": "index=x \n| stats count \n| where count > 1", "next": "y"}


def test_repeated_stanza_merges_and_later_key_wins():
    conf = parse_conf("[a]\nx = 1\ny = 1\n[a]\ny = 2\n")
    assert conf == {"a": {"x": "1", "y": "2"}}


def test_keys_are_case_sensitive_and_values_stripped():
    assert parse_conf("[a]\nKey =  v  \nkey = w\n") == {"a": {"Key": "v", "key": "w"}}


def test_bad_line_names_file_and_line():
    with pytest.raises(ConfParseError, match=r"macros.conf:2"):
        parse_conf("[a]\nthis is not a setting\n", source="macros.conf")


def test_read_conf_tolerates_bom(tmp_path):
    path = tmp_path / "transforms.conf"
    path.write_bytes("\ufeff[t]\nfilename = t.csv\n".encode())
    assert read_conf(path) == {"t": {"filename": "t.csv"}}
