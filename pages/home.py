"""Home: the dataset and catalog in use, a scan with progress, headline counts, CPU/GPU."""

from __future__ import annotations

import os

import pandas as pd
import streamlit as st

from deeprock import settings
from deeprock.app import ui
from deeprock.corpus.catalog import Catalog, CatalogError
from deeprock.corpus.scan import find_midi_files, scan
from deeprock.corpus.scanlock import ScanBusy
from deeprock.training import jobs

st.title("DeepRock Studio")
st.caption("Learn rock guitar from MIDI and generate new riffs.")

current = settings.load()
with st.form("dataset"):
    dataset = st.text_input("MIDI folder", current.dataset,
                            help="Scanned recursively for .mid .midi .rmi .kar, any case.")
    catalog_path = st.text_input("Catalog file (SQLite)", current.catalog)
    scan_clicked = st.form_submit_button("Scan", type="primary",
                                         help="Parse new and changed files into the catalog.")
    chosen = st.form_submit_button("Use this dataset without scanning")

if chosen or scan_clicked:
    current = settings.Settings(dataset=dataset.strip(), catalog=catalog_path.strip())
    settings.save(current)


@st.cache_data(show_spinner=False)
def catalog_summary(path: str, modified: float) -> dict:
    """Cached per catalog file and its modification time: a rescan refreshes it."""
    with Catalog(path) as catalog:
        summary = catalog.summary()
        problems = catalog.files(problems_only=True)
    return {"summary": summary, "problems": problems}


def run_scan() -> None:
    if not os.path.isdir(current.dataset):
        st.error(f"{current.dataset} is not a folder.")
        return
    bar = st.progress(0.0, text="Scanning…")

    def progress(done: int, total: int) -> None:
        bar.progress(done / total, text=f"Scanning {done}/{total} files")

    try:  # spawn: forking a threaded server is unsafe
        report = scan([current.dataset], current.catalog, progress=progress, start="spawn")
    except ScanBusy as error:  # the same sentence `deeprock scan` gives
        bar.empty()
        st.warning(f"Not scanned: {error}.")
        return
    except CatalogError as error:
        st.error(str(error))
        return
    bar.empty()
    st.success(f"Scanned {report.files} files in {report.seconds:.1f} s ({report.new} parsed, "
               f"{report.unchanged} unchanged): {report.ok} ok, {report.recovered} recovered, "
               f"{report.failed} failed.")


if scan_clicked:
    run_scan()

def show_catalog() -> None:
    if not os.path.exists(current.catalog):
        folder = current.dataset
        found = len(find_midi_files(folder, [])) if os.path.isdir(folder) else 0
        st.info(f"No catalog yet at {current.catalog}. {found} MIDI files in {folder}: "
                "press Scan. (`make run` creates and scans the synthetic demo corpus.)")
        return
    try:
        result = catalog_summary(current.catalog, os.path.getmtime(current.catalog))
    except CatalogError as error:
        st.error(str(error))
        return
    summary = result["summary"]
    st.subheader(f"Catalog {current.catalog}")
    ui.status_metrics(summary)
    row2 = st.columns(4)
    row2[0].metric("Guitar files", summary["guitar_files"])
    row2[1].metric("Guitar tracks", summary["guitar_tracks"])
    row2[2].metric("Tracks without program", summary["missing_program_tracks"])
    row2[3].metric("Guitar tokens", f"{summary['tokens']:,}",
                   help=f"vocabulary of {summary['vocabulary']} tokens")
    if result["problems"]:
        with st.expander(f"{len(result['problems'])} files recovered or failed"):
            table = pd.DataFrame(result["problems"])[["root", "path", "status", "repairs",
                                                      "error"]]
            table["repairs"] = table["repairs"].map("; ".join)
            table["error"] = table["error"].fillna("")  # a recovered file has repairs, no error
            st.dataframe(table, hide_index=True, width="stretch")


show_catalog()

st.subheader("Compute")
if st.button("Detect CPU/GPU", help="Asks TensorFlow in a child process: a few seconds."):
    with st.spinner("Asking TensorFlow…"):  # never imported here: seconds and hundreds of MB
        st.write(jobs.describe_devices())

st.subheader("Next")
st.page_link("pages/dataset_health.py", label="Dataset health", icon=":material/monitor_heart:")
st.page_link("pages/train.py", label="Train a model", icon=":material/model_training:")
st.page_link("pages/generate.py", label="Generate riffs", icon=":material/music_note:")
