"""The collection: scanning into the SQLite catalog, its health (duplicates, windows, labels,
selections) and the demo corpus. Builds on deeprock.music (docs/architecture.md)."""
