"""Train page: not built yet (a later issue fills it)."""

import streamlit as st

st.title("Train")
st.info(
    "This page is not built yet. It will show background training with live curves, "
    "stop/resume and learning-rate sweeps. "
    "Until then, the Home page scans a dataset and shows its counts."
)
st.page_link("pages/home.py", label="Back to Home", icon=":material/home:")
