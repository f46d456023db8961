"""docs/coverage.md is generated (``make coverage-docs``); this fails when it is stale.

The doc lists ember's built-in backends available where it was generated. A machine with
fewer or more of them (no OpenCL runtime, a real GPU) compares the backends present both in
the doc and here, and always cpu and the op list: what the doc says about them must be current.
"""
from pathlib import Path

from ember.__main__ import coverage_markdown, doc_devices

DOC = Path(__file__).resolve().parent.parent / "docs" / "coverage.md"
STALE = "docs/coverage.md is stale: regenerate it with `make coverage-docs`"


def _table(text):
    """(column names, {op: row}) of the markdown table in ``text``."""
    rows = [[c.strip() for c in line.strip().strip("|").split("|")]
            for line in text.splitlines() if line.startswith("| ")]
    header, body = rows[0], rows[1:]
    return header, {row[0]: dict(zip(header, row)) for row in body}


def test_coverage_doc_is_current():
    doc = DOC.read_text()
    doc_header, doc_rows = _table(doc)
    here = doc_devices()
    shared = [d for d in doc_header[2:] if d in here]
    assert "cpu" in shared, STALE
    if doc_header[2:] == here:  # the set-up it was generated in: the whole file must match
        assert doc == coverage_markdown(), STALE
        return
    new_header, new_rows = _table(coverage_markdown(shared))
    assert list(doc_rows) == list(new_rows), STALE + " (the ops differ)"
    for op, row in new_rows.items():
        assert {k: doc_rows[op][k] for k in row} == row, f"{STALE} (op {op})"


def test_markdown_is_deterministic():
    assert coverage_markdown() == coverage_markdown()
