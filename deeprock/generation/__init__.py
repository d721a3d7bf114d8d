"""The generation stage (see DESIGN.md's data flow)."""
