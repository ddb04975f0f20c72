"""The documentation's links lead to files in the repository (not outside it, not into git-ignored runs/)."""

import re

import pytest

from helpers import REPO

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
CODE = re.compile(r"```.*?```|`[^`\n]*`", re.S)
LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_links_lead_to_files_in_the_repository(doc):
    text = CODE.sub("", doc.read_text(encoding="utf-8"))
    for target in LINK.findall(text):
        if target.startswith(("http://", "https://", "#", "mailto:")):
            continue
        path = (doc.parent / target.split("#")[0]).resolve()
        assert path.is_relative_to(REPO) and path.exists(), f"{doc.name}: {target} is not in the repository"
        assert not path.is_relative_to(REPO / "runs"), f"{doc.name}: {target} is in git-ignored runs/"


def test_results_name_the_cpu():
    text = (REPO / "docs" / "RESULTS.md").read_text(encoding="utf-8")
    assert "this 2-core machine" not in text and re.search(r"^Measured \S+ on \S.*, \d+ CPUs", text, re.M)
