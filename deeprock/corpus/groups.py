"""Connected components by union-find: one for dedup's version groups and the split's units.

    components([1, 2, 3, 4], [(1, 3)])  # [[1, 3], [2], [4]]
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from typing import TypeVar

Item = TypeVar("Item", bound=Hashable)


def components(items: Sequence[Item], links: Iterable[tuple[Item, Item]]) -> list[list[Item]]:
    """Every item's component, singletons too, ordered by first member, members in items' order.

    The order is part of the contract: the split draws its seeded permutation over it, so the
    same catalog and seed give the same validation files.
    """
    parent = {item: item for item in items}

    def root(item: Item) -> Item:
        while parent[item] != item:
            parent[item] = parent[parent[item]]  # path halving: trees stay shallow
            item = parent[item]
        return item

    for first, second in links:
        parent[root(first)] = root(second)
    members: dict[Item, list[Item]] = {}
    for item in items:
        members.setdefault(root(item), []).append(item)
    return list(members.values())
