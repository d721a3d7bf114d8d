"""Dataset health page: not built yet (a later issue fills it)."""

import streamlit as st

st.title("Dataset health")
st.info(
    "This page is not built yet. It will show duplicates, versions, missing instrument "
    "metadata and the interactive unique_factor / sequence_length filter. "
    "Until then, the Home page scans a dataset and shows its counts."
)
st.page_link("pages/home.py", label="Back to Home", icon=":material/home:")
