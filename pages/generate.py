"""Generate page: not built yet (a later issue fills it)."""

import streamlit as st

st.title("Generate")
st.info(
    "This page is not built yet. It will show riffs with rhythm as piano roll, guitar tab, "
    "audio and MIDI/WAV downloads. "
    "Until then, the Home page scans a dataset and shows its counts."
)
st.page_link("pages/home.py", label="Back to Home", icon=":material/home:")
