"""benchmarks/regenerate.py: generated figure blocks are replaced in place, and the registry matches the docs."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from facemask.errors import FacemaskError

REPOSITORY = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def regenerate():
    spec = importlib.util.spec_from_file_location("regenerate", REPOSITORY / "benchmarks" / "regenerate.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["regenerate"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("regenerate", None)


def test_a_block_is_replaced_and_the_text_around_it_kept(regenerate):
    text = (
        "# Title\nbefore\n<!-- figures:speed -->\n| old | table |\n<!-- /figures:speed -->\nafter\n"
        "<!-- figures:other -->\nkept\n<!-- /figures:other -->\n"
    )
    result = regenerate.replace_block(text, "speed", "| new | table |\n")
    assert result == (
        "# Title\nbefore\n<!-- figures:speed -->\n| new | table |\n<!-- /figures:speed -->\nafter\n"
        "<!-- figures:other -->\nkept\n<!-- /figures:other -->\n"
    )
    assert regenerate.replace_block(result, "speed", "| new | table |") == result  # a second run changes nothing
    assert regenerate.markers_in(result) == {"speed", "other"}


@pytest.mark.parametrize(
    "text",
    [
        "no markers here\n",
        "<!-- figures:speed -->\nonly a start\n",
        "<!-- /figures:speed -->\nend before start\n<!-- figures:speed -->\n",
        "<!-- figures:speed -->\n<!-- /figures:speed -->\n<!-- figures:speed -->\n<!-- /figures:speed -->\n",
    ],
)
def test_missing_or_broken_markers_are_an_error_naming_the_file(regenerate, text):
    with pytest.raises(FacemaskError, match=r"docs/x\.md"):
        regenerate.replace_block(text, "speed", "| t |", "docs/x.md")


def test_every_registered_block_has_markers_and_every_marker_a_block(regenerate):
    assert regenerate.check(regenerate.FIGURES) == []
    names = [figure.name for figure in regenerate.FIGURES]
    assert len(names) == len(set(names))
    for figure in regenerate.FIGURES:
        assert (REPOSITORY / figure.command[0]).is_file(), figure.command


def test_the_check_notices_a_block_the_registry_lacks(regenerate):
    dropped = [figure for figure in regenerate.FIGURES if figure.name != "cold-start"]
    assert regenerate.check(dropped) == ["docs/benchmarks.md: block 'cold-start' has markers but no registered figure"]
