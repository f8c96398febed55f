"""Durable run records: a torn last line (a writer killed mid-line) is skipped by readers and never
swallows the next record."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from rdagent_autorl.records import append_record, read_jsonl, write_json_atomic, read_json


class Row(BaseModel):
    n: int


def test_a_torn_last_line_is_skipped_and_the_next_append_survives(tmp_path):
    log = tmp_path / "scores.jsonl"
    append_record(log, Row(n=1))
    log.write_bytes(log.read_bytes() + b'{"n": 2, "extra')  # killed mid-write
    assert [r.n for r in read_jsonl(log, Row)] == [1]
    append_record(log, Row(n=3))
    assert [r.n for r in read_jsonl(log, Row)] == [1, 3]
    assert read_jsonl(tmp_path / "missing.jsonl", Row) == []


def test_json_files_are_replaced_whole(tmp_path):
    path = tmp_path / "record.json"
    write_json_atomic(path, Row(n=1))
    write_json_atomic(path, {"n": 2})
    assert read_json(path, Row).n == 2 and [p.name for p in tmp_path.iterdir()] == ["record.json"]


def test_links_planted_in_a_folder_someone_else_controls_are_not_written_through(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("untouched\n")
    log = tmp_path / "copy.jsonl"
    log.symlink_to(victim)
    with pytest.raises(OSError):
        append_record(log, Row(n=1), follow_links=False)
    # write_json_atomic replaces a link at the path, and writes aside to a fresh file, never a planted name
    write_json_atomic(log, Row(n=2))
    assert victim.read_text() == "untouched\n" and not log.is_symlink() and read_json(log, Row).n == 2
