"""The one union-find (corpus/groups.py) on a hand-made edge list, and its two users."""

from __future__ import annotations

from pathlib import Path

from deeprock.corpus import dedup, groups
from deeprock.training import split

PACKAGE = Path(__file__).resolve().parents[1] / "deeprock"


def test_components_of_a_hand_made_edge_list():
    # 1-3-5 chained through a back edge and a repeat, 2-6 reversed, 4 and 7 alone, 8 a self-loop
    links = [(5, 3), (1, 3), (3, 5), (6, 2), (8, 8)]
    assert groups.components([1, 2, 3, 4, 5, 6, 7, 8], links) == [[1, 3, 5], [2, 6], [4], [7],
                                                                  [8]]
    # order follows the items, whatever the links' direction
    assert groups.components([8, 7, 6, 5, 4, 3, 2, 1], links) == [[8], [7], [6, 2], [5, 3, 1],
                                                                  [4]]
    assert groups.components(["a", "b", "c"], [("c", "a")]) == [["a", "c"], ["b"]]
    assert groups.components([], []) == []


def test_a_long_chain_is_one_component():
    items = list(range(10_000))
    assert groups.components(items, zip(items[1:], items, strict=False)) == [items]


def test_dedup_and_the_split_share_the_one_union_find():
    assert dedup.components is groups.components and split.components is groups.components
    holders = [path.relative_to(PACKAGE).as_posix() for path in PACKAGE.rglob("*.py")
               if "parent[parent[" in path.read_text(encoding="utf-8")]
    assert holders == ["corpus/groups.py"]
