"""The tables of docs/benchmarks.md: written by the eval scripts into their own blocks, with the command."""

import sys

import pytest

from genrefocus.benchmark import markdown_table, this_command, update_doc_table


def test_this_command_keeps_what_changes_a_figure(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["eval/bench_renderer.py", "--out", "/tmp/x", "--size", "128",
                                      "--parts=accuracy,speed", "--spacing", "0.5"])
    assert this_command("speed") == "python eval/bench_renderer.py --size 128 --spacing 0.5 --parts speed"
    monkeypatch.setattr(sys, "argv", ["eval/dp_capacity.py", "runs/a", "--out=o", "--n", "6"])
    assert this_command() == "python eval/dp_capacity.py runs/a --n 6"


def test_update_doc_table_replaces_only_its_block(tmp_path):
    page = tmp_path / "benchmarks.md"
    page.write_text("intro\n<!-- table:a -->\nold a\n<!-- /table:a -->\nmiddle\n<!-- table:b -->\nold b\n"
                    "<!-- /table:b -->\nend\n")
    update_doc_table("a", markdown_table(["x", "y"], [[1, 2]]), "python eval/x.py", path=page)
    text = page.read_text()
    assert "old a" not in text and "| x | y |\n|---|---|\n| 1 | 2 |" in text and "`python eval/x.py`" in text
    assert "old b" in text and text.startswith("intro\n") and text.endswith("end\n")
    with pytest.raises(Exception, match="c"):
        update_doc_table("c", "body", "cmd", path=page)   # a block must exist: it places the table
