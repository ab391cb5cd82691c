"""README.md stays a first screen (at most 200 lines) and no link in it or in docs/*.md is dead."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = sorted((REPO / "docs").glob("*.md"))
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")  # [text](target) and ![alt](target)


def relative_links(path: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)  # code is not links
    return [t for t in LINK.findall(text) if not re.match(r"[a-z]+:", t) and not t.startswith("#")]


def test_readme_is_at_most_200_lines():
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines; move reference material into docs/"


def test_readme_links_the_notebooks_in_order_and_the_docs():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    notebooks = re.findall(r"\(demos/notebooks/(\d\d)_\w+\.ipynb\)", text)
    assert notebooks[:7] == ["01", "02", "03", "04", "05", "06", "07"] and notebooks == sorted(notebooks)
    for doc in DOCS:
        assert f"(docs/{doc.name})" in text, f"the README's Docs table does not link docs/{doc.name}"


@pytest.mark.parametrize("path", [REPO / "README.md", *DOCS], ids=lambda p: p.name)
def test_every_relative_link_points_to_a_file(path):
    links = relative_links(path)
    assert path.name != "README.md" or links
    dead = [t for t in links if not (path.parent / t.split("#")[0]).exists()]
    assert not dead, f"{path.relative_to(REPO)} links to missing files: {dead}"
