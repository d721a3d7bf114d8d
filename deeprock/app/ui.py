"""Streamlit pieces that more than one page shows; imported by pages only."""

from __future__ import annotations

import streamlit as st


def status_metrics(summary: dict) -> None:
    """Files, and how they were read: the first row of the Home and Dataset health pages."""
    columns = st.columns(4)
    columns[0].metric("Files", summary["files"])
    columns[1].metric("Read cleanly", summary["ok"])
    columns[2].metric("Recovered", summary["recovered"])
    columns[3].metric("Failed", summary["failed"])
