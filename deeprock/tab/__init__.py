"""Fret choice and everything tab: fingerings, text tab, Guitar Pro 5, a track's tab and its
view. Used by the health page and by generation alike (docs/architecture.md)."""
