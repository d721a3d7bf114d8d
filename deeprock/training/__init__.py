"""The training stage (see DESIGN.md's data flow)."""
