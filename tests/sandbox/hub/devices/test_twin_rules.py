"""Twin document rules (kit/sandbox/hub/devices/twins.py): etag encodings, merge with metadata, replacement, sizes."""

from __future__ import annotations

import pytest

from kit.sandbox.hub.devices import twins
from kit.sandbox.hub.transport.errors import HubError


def test_etag_encodings_match_the_hub():
    assert twins.twin_etag(7) == "AAAAAAAAAAc=" and twins.twin_etag(1) == "AAAAAAAAAAE="
    assert twins.identity_etag(318751955) == "MzE4NzUxOTU1"


def test_patch_section_keeps_metadata_at_every_level():
    section = twins.empty_section(twins.desired_stamp("t0", 1))
    once = twins.patch_section("desired", section, {"a": {"b": 1, "c": 2}}, "t1")
    twice = twins.patch_section("desired", once, {"a": {"c": None}, "$version": 50}, "t2")
    assert twice["$version"] == 3 and twice["a"] == {"b": 1}
    meta = twice["$metadata"]
    assert meta["$lastUpdated"] == "t2" and meta["a"]["$lastUpdatedVersion"] == 3
    assert meta["a"]["b"] == {"$lastUpdated": "t1", "$lastUpdatedVersion": 2} and "c" not in meta["a"]


def test_reported_metadata_has_no_version():
    section = twins.patch_section("reported", twins.empty_section(twins.reported_stamp("t0")), {"x": 1}, "t1")
    assert section["$metadata"]["x"] == {"$lastUpdated": "t1"}


def test_replace_section_drops_nulls_and_restamps():
    replaced = twins.replace_section("desired", {"$version": 4, "old": 1}, {"new": {"n": None, "k": 1}}, "t")
    assert replaced["new"] == {"k": 1} and "old" not in replaced and replaced["$version"] == 5
    assert replaced["$metadata"]["new"]["k"]["$lastUpdatedVersion"] == 5


def test_size_counts_as_documented():
    assert twins.size_of({"ab": "xyz", "n": 1, "b": True}) == 2 + 3 + 1 + 8 + 1 + 4
    with pytest.raises(HubError, match="8 KB"):
        twins.merge_tags({}, {"k": "x" * 4000, "l": "x" * 4000, "m": "x" * 300})
