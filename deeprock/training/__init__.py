"""The training stage (docs/architecture.md: the data flow)."""
