"""Streamlit parts shared by pages: widgets, piano-roll layout, the listen-and-review loop.
Imported by pages only (docs/architecture.md)."""
