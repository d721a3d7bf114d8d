"""DeepRock Studio: `streamlit run app.py` (or `make run`). Routing only; pages live in pages/."""

import streamlit as st

# Streamlit runs this file as __main__; a spawned scan worker imports it as __mp_main__ and
# must not build the app again.
if __name__ == "__main__":
    st.set_page_config(page_title="DeepRock Studio", page_icon=":guitar:", layout="wide")
    navigation = st.navigation([
        st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
        st.Page("pages/dataset_health.py", title="Dataset health",
                icon=":material/monitor_heart:"),
        st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
        st.Page("pages/generate.py", title="Generate", icon=":material/music_note:"),
    ])
    navigation.run()
