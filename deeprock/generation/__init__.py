"""The generation stage (docs/architecture.md: the data flow)."""
