"""README and docs/: every relative link and #anchor resolves, and README stays a five-minute read (about 10 KB)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[1]
DOCUMENTS = [REPOSITORY / "README.md", *sorted((REPOSITORY / "docs").rglob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def _prose(path: Path) -> str:
    """The Markdown of `path` without its fenced code blocks (their links and `#` lines are not Markdown)."""
    return FENCE.sub("", path.read_text(encoding="utf-8"))


def _anchors(path: Path) -> set[str]:
    """GitHub's anchors for the headings of `path`: lower case, punctuation dropped, spaces as hyphens, repeats
    numbered."""
    anchors: set[str] = set()
    for heading in re.findall(r"^#{1,6} +(.+?) *#*$", _prose(path), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        candidate, number = slug, 0
        while candidate in anchors:
            number += 1
            candidate = f"{slug}-{number}"
        anchors.add(candidate)
    return anchors


def _relative_links(path: Path) -> list[str]:
    return [target for target in LINK.findall(_prose(path)) if not re.match(r"[a-z][a-z0-9+.-]*:", target)]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(REPOSITORY)))
def test_every_relative_link_and_anchor_resolves(document):
    broken = []
    for target in _relative_links(document):
        file_part, _, anchor = target.partition("#")
        linked = (document.parent / file_part).resolve() if file_part else document
        if not linked.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
            broken.append(f"{target} (no such heading)")
    assert not broken, f"{document.relative_to(REPOSITORY)}: {broken}"


def test_readme_is_short_and_names_two_commands():
    readme = (REPOSITORY / "README.md").read_text(encoding="utf-8")
    assert len(readme.encode("utf-8")) <= 10 * 1024
    commands = re.findall(r"^```bash\n(.*?)^```", readme, re.S | re.M)
    assert len(commands) == 2, commands
    assert all(len(block.strip().splitlines()) == 1 for block in commands), commands


def test_no_issue_numbers_or_dates_in_the_headings_of_current_docs():
    for document in DOCUMENTS:
        if "archive" in document.relative_to(REPOSITORY).parts:
            continue
        for heading in re.findall(r"^#{1,6} +(.+)$", _prose(document), re.M):
            assert not re.search(r"\bissue \d+|\b20\d\d-\d\d-\d\d\b", heading, re.I), (document.name, heading)
