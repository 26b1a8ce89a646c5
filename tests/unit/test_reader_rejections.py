"""Bad files: each is skipped with a reason a Splunk admin can act on; hostile YAML is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from malicious_image.content import yaml_safe
from malicious_image.content.reader import read_member
from malicious_image.content.yaml_safe import YamlError, load_yaml

pytestmark = pytest.mark.runtime

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "content"
PATH = "detections/endpoint/container_image_pulled_from_unlisted_registry.yml"
GOOD_B = (FIXTURES / "era_b" / PATH).read_text(encoding="utf-8")
GOOD_C1 = (FIXTURES / "era_c1" / PATH).read_text(encoding="utf-8")


@pytest.fixture(params=["libyaml", "pure"], autouse=True)
def yaml_backend(request):
    if request.param == "libyaml" and not hasattr(yaml, "CSafeLoader"):
        pytest.skip("PyYAML built without libyaml")
    before = yaml_safe.libyaml_in_use()
    yaml_safe.use_libyaml(request.param == "libyaml")
    yield request.param
    yaml_safe.use_libyaml(before)


def reason_for(text, path=PATH):
    data = text.encode("utf-8") if isinstance(text, str) else text
    result = read_member(path, data)
    assert result.record is None, "expected a rejection"
    assert result.rejection.path == path
    return result.rejection.reason


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        ("id: 5b0f5c1e-7d43-4c1a-9a57-2f3b8e6d9c10", "id: 5b0f5c1e-nope",
         "field 'id' is not a UUID (found '5b0f5c1e-nope')"),
        ("  - T1204.003\n", "  - T1204.3\n",
         "field 'mitre_attack_id[0]' is not an ATT&CK technique id (Tnnnn or Tnnnn.nnn) (found 'T1204.3')"),
        ("date: '2022-03-14'", "date: '14/03/2022'",
         "field 'date' is not a date (YYYY-MM-DD) (found '14/03/2022')"),
        ("date: '2022-03-14'", "date: '2022-02-30'",
         "field 'date' is not a date (YYYY-MM-DD) (found '2022-02-30')"),
        ("date: '2022-03-14'\n", "", "field 'date' is missing or empty"),
        ("status: production", "status: retired",
         "field 'status' is not one of production, experimental, deprecated, removed, validation"
         " (found 'retired')"),
        ("version: 2", "version: two", "field 'version' must be a whole number, found 'two'"),
        ("version: 2", "version: 0", "field 'version' is not a positive whole number (found 0)"),
        ("name: Container Image Pulled From Unlisted Registry\n", "", "field 'name' is missing or empty"),
        ("tags:\n", "tags: [a, b]\nold_tags:\n", "field 'tags' must be a mapping, found a list"),
        ("description: A container", "description:\n- A container",
         "field 'description' must be text, found a list"),
    ],
)
def test_bad_field_gives_a_precise_reason(old, new, reason):
    assert old in GOOD_B
    assert reason_for(GOOD_B.replace(old, new, 1)) == reason


def test_empty_search_is_a_defect_unless_removed():
    head, rest = GOOD_C1.split("search: >-")
    text = head + "search: ''\nhow_to_implement" + rest.split("\nhow_to_implement", 1)[1]
    assert reason_for(text) == "field 'search' is missing or empty"


def test_rba_score_out_of_range():
    text = GOOD_C1.replace("score: 56", "score: 500", 1)
    assert reason_for(text) == "field 'risk_objects[1].score' is not a score from 0 to 100 (found 500)"


def test_not_a_mapping_empty_and_invalid_yaml():
    assert reason_for("- just\n- a list\n") == "is not a YAML mapping (found a list)"
    assert reason_for("") == "is not a YAML mapping (found nothing)"
    assert reason_for("name: [unclosed\n").startswith("not valid YAML: ")
    assert reason_for("a: 1\n---\nb: 2\n").startswith("not valid YAML: ")


def test_non_utf8_is_refused_with_the_offset():
    data = GOOD_B.encode("utf-8").replace(b"Developers", b"D\xe9velopers", 1)
    offset = data.index(b"\xe9")
    assert reason_for(data) == f"not UTF-8 text (byte 0xe9 at offset {offset})"


BOMB = """
a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
name: *f
"""


def test_alias_bomb_is_refused():
    with pytest.raises(YamlError, match="anchors and aliases are not allowed"):
        load_yaml(BOMB.encode())
    assert reason_for(BOMB).startswith("anchors and aliases are not allowed (line 2")


def test_a_single_anchor_is_refused_too():
    # security_content uses none; refusing them all is simpler than counting
    with pytest.raises(YamlError, match="anchors and aliases are not allowed"):
        load_yaml(b"name: &n value\nother: 1\n")
    with pytest.raises(YamlError, match="anchors and aliases are not allowed"):
        load_yaml(b"*alias\n")


def test_star_and_ampersand_in_text_are_not_anchors():
    doc = load_yaml(b"search: '`x` | search * | eval a=b & c'\ndescription: |-\n  **bold** &amp; *em*\n")
    assert doc == {"search": "`x` | search * | eval a=b & c", "description": "**bold** &amp; *em*"}


def test_deep_flow_nesting_is_refused():
    deep = "a: " + "[" * (yaml_safe.MAX_DEPTH + 5) + "]" * (yaml_safe.MAX_DEPTH + 5) + "\n"
    with pytest.raises(YamlError, match="nesting deeper than"):
        load_yaml(deep.encode())
    very_deep = "[" * 5000 + "]" * 5000
    with pytest.raises(YamlError):
        load_yaml(very_deep.encode())


def test_nesting_within_the_limit_is_fine():
    ok = "a: " + "[" * (yaml_safe.MAX_DEPTH - 2) + "1" + "]" * (yaml_safe.MAX_DEPTH - 2) + "\n"
    assert load_yaml(ok.encode())["a"]


def test_python_tags_are_refused():
    with pytest.raises(YamlError, match="not valid YAML"):
        load_yaml(b"name: !!python/object/apply:os.system ['true']\n")


def test_observable_without_a_name_is_skipped_not_fatal():
    text = GOOD_B.replace("  - name: dest\n", "  - name: null\n", 1)
    result = read_member(PATH, text.encode())
    assert result.rejection is None
    assert [o.field for o in result.record.risk_objects] == ["user"]


def test_deep_block_nesting(yaml_backend):
    text = "".join(" " * i + f"k{i}:\n" for i in range(yaml_safe.MAX_DEPTH + 8)) + " " * 41 + "v\n"
    if yaml_backend == "pure":
        with pytest.raises(YamlError, match="nesting deeper than"):
            load_yaml(text.encode())
    else:
        # libyaml bounds block nesting itself (1,000 levels); a few dozen levels simply load
        assert isinstance(load_yaml(text.encode()), dict)


def test_oversized_file_is_not_parsed():
    data = b"description: '" + b"x" * yaml_safe.MAX_BYTES + b"'\n"
    with pytest.raises(YamlError, match="bytes is larger than the 2,097,152 bytes accepted"):
        load_yaml(data)


def test_the_first_problem_in_field_order_is_reported():
    # id comes before date in the record: an admin fixes them in the order they are reported
    assert reason_for("name: x\n") == "field 'id' is missing or empty"
