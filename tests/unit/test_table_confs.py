"""collections.conf and transforms.conf follow the one list of tables (sync.tables.TABLE_NAMES) and
the model's field tuples: a table added or a field renamed in code without its conf fails here."""

from __future__ import annotations

from malicious_image.content import model
from malicious_image.sync.tables import DATA_SOURCE_FIELDS, TABLE_NAMES
from tests.emulators.splunkd_server import SplunkdEmulator
from tests.support.paths import APP

FIELDS = {
    "detections": model.DETECTION_FIELDS, "techniques": model.TECHNIQUE_FIELDS, "tactics": model.TACTIC_FIELDS,
    "groups": model.GROUP_FIELDS, "stories": model.STORY_FIELDS, "macros": model.MACRO_FIELDS,
    "data_sources": DATA_SOURCE_FIELDS,
}  # fmt: skip


def test_every_table_has_a_lookup_with_the_model_fields_and_two_collections() -> None:
    confs = SplunkdEmulator(app_dir=APP).confs
    transforms, collections = confs["transforms"], confs["collections"]
    kvstore = {n.removeprefix("malicious_image_") for n, s in transforms.items() if s.get("external_type") == "kvstore"}
    assert kvstore == set(TABLE_NAMES) == set(FIELDS)
    for table in TABLE_NAMES:
        listed = tuple(f.strip() for f in transforms[f"malicious_image_{table}"]["fields_list"].split(","))
        assert listed == FIELDS[table], table
        for slot in ("a", "b"):
            stanza = collections[f"malicious_image_{table}_{slot}"]
            typed = {k.removeprefix("field.") for k in stanza if k.startswith("field.")}
            assert typed - {"generation"} <= set(FIELDS[table]), (table, slot)
