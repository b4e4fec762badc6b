"""Records and JSONL files that survive a crash: torn last lines repaired, bad lines reported by number."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studio.errors import StudioError
from studio.records import BadLine, JsonlWriter, Record, mend_unicode, read_records, scan_jsonl, stable_id


def test_stable_id_depends_on_template_axes_and_index_only() -> None:
    a = stable_id("item", {"kind": "qa", "style": "x"}, 0)
    assert a == stable_id("item", {"style": "x", "kind": "qa"}, 0)  # key order does not matter
    assert a != stable_id("item", {"kind": "qa", "style": "x"}, 1)
    assert a != stable_id("qa", {"kind": "qa", "style": "x"}, 0)


def test_a_torn_last_line_is_cut_when_the_file_is_opened_again(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    with JsonlWriter(path) as w:
        w.write(Record("a", {"text": "one"}))
        w.write(Record("b", {"text": "two"}))
    with open(path, "a") as f:
        f.write('{"id": "c", "data": {"te')  # a crash in the middle of a write
    with JsonlWriter(path) as w:
        assert w.repaired_bytes == len('{"id": "c", "data": {"te')
        w.write(Record("c", {"text": "three"}))
    assert [r.id for r in read_records(path)] == ["a", "b", "c"]


def test_scan_reports_every_bad_line_by_number(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b'{"id": "a", "data": {}}\n\n{not json}\n[1, 2]\n\xff\xfe\n{"id": "b", "data": {}}\n')
    results = list(scan_jsonl(path))
    bad = {n: item.reason for n, item in results if isinstance(item, BadLine)}
    assert list(bad) == [2, 3, 4, 5]
    assert bad[2] == "empty line"
    assert bad[3].startswith("not valid JSON")
    assert bad[4] == "expected a JSON object, got list"
    assert bad[5].startswith("not UTF-8")
    assert [n for n, item in results if not isinstance(item, BadLine)] == [1, 6]


def test_reading_records_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text('{"id": "a", "data": {}}\n{"id": 3, "data": {}}\n')
    with pytest.raises(StudioError, match=r"r.jsonl: line 2: expected a record"):
        read_records(path)


def test_a_lone_surrogate_from_a_model_is_written_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "odd.jsonl"
    text = json.loads('"grey \\ud87e wood, caf\\u00e9"')  # what json.loads makes of a model's bad escape
    with JsonlWriter(path) as w:
        w.write(Record("a", {"text": text}))
        w.write(Record("b", {"text": "plain café"}))
    assert [r.data["text"] for r in read_records(path)] == [text, "plain café"]
    assert "café" in path.read_text(encoding="utf-8")  # lines without the odd character stay readable


def test_mend_unicode_replaces_lone_surrogates_only() -> None:
    broken = json.loads('{"t": ["a \\ud87e b", "\\ud83d\\ude00 fine"]}')
    assert mend_unicode(broken) == {"t": ["a \ufffd b", "\U0001f600 fine"]}
