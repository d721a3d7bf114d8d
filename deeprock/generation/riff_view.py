"""A riff on the Generate page: its lengths, tab (paged, wrapped), downloads, and the gallery.

    riff_view.show_tab(render, key="tab-0")
    riff_view.downloads(render, stem="riff-1", key="0")
    riff_view.show_gallery(root, regenerate=lambda entry: ...)

Widgets only; the files come from outputs.RiffRender, the saved riffs from gallery.py. A saved
riff is shown from its own files (RiffRender.from_files): what was saved is what downloads.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable

import streamlit as st

from deeprock.generation import gallery
from deeprock.generation.outputs import DOWNLOADS, FILE_NAMES, MIME_TYPES, OutputOptions, RiffRender
from deeprock.generation.riff import Riff
from deeprock.tab.tabtext import PAGE_BARS, bar_count

LABELS = {"mid": "MIDI", "wav": "WAV", "ogg": "Ogg", "txt": "Tab", "gp5": "Guitar Pro 5",
          "musicxml": "MusicXML"}
ON_CLICK = ("ogg", "gp5", "musicxml")  # built when their button is clicked, not before
COMPARED = "gallery-compared"  # the riffs chosen for comparison, kept across saves and renames
TAB_BARS_PER_BLOCK = 2
TAB_STYLE = ("display:flex;flex-wrap:wrap;gap:0 2ch;font-family:'Source Code Pro',monospace;"
             "font-size:0.85rem;line-height:1.25")
BLOCK_STYLE = "margin:0 0 0.8rem 0;overflow-x:auto;font-family:inherit;font-size:inherit"


def bars_spanned(twelfths: int, bar_twelfths: int) -> int:
    """Whole bars a stretch of music reaches into."""
    return math.ceil(twelfths / bar_twelfths) if twelfths > 0 else 0


def lengths(riff: Riff, options: OutputOptions, requested_bars: int | None = None
            ) -> tuple[str, str | None]:
    """The generated part's length for the heading (the bars asked for, which its time fills,
    or the bars of the riff's meter its onsets reach); the primer's, said apart (None: no
    primer)."""
    bar = options.bar_twelfths
    start = riff.generated_onset_twelfths()
    generated = len(riff) - riff.primer_length
    last_onset = int(riff.onsets_twelfths()[-1]) - start if generated else 0
    bars = requested_bars or (last_onset // bar + 1 if generated else 0)
    heading = f"{generated} tokens generated, {bars} bar{'s' * (bars != 1)}"
    if not riff.primer_length:
        return heading, None
    primer_bars = bars_spanned(start, bar)
    return heading, (f"After the primer: {riff.primer_length} tokens, {primer_bars} "
                     f"bar{'s' * (primer_bars != 1)} (grey in the piano roll; the tab marks "
                     "where the generated part starts).")


def show_tab(render: RiffRender, key: str) -> None:
    """The tab in blocks of two bars that wrap to the box's width; 16 bars a page."""
    bars = bar_count(render.onsets_quarters, render.options.bar_quarters)
    start = 0
    if bars > PAGE_BARS:
        start = st.selectbox("Tab bars", range(0, bars, PAGE_BARS), key=key,
                             format_func=lambda b: f"{b + 1}-{min(b + PAGE_BARS, bars)} of {bars}")
    systems = render.tab_systems(bars_per_line=TAB_BARS_PER_BLOCK, start_bar=start,
                                 bars=PAGE_BARS)
    blocks = "".join(f'<pre style="{BLOCK_STYLE}">{html.escape(system)}</pre>'
                     for system in systems)
    st.html(f'<div class="riff-tab" style="{TAB_STYLE}">{blocks}</div>')


def audio(render: RiffRender) -> None:
    if isinstance(render.wav, bytes):
        st.audio(render.wav, format="audio/wav")
    else:
        st.warning(f"No audio: {render.wav}")


def downloads(render: RiffRender, stem: str, key: str) -> None:
    """One button per format; Ogg, GP5 and MusicXML are made on their click (Streamlit calls
    the function then), and no click reruns the page."""
    kinds = [kind for kind in DOWNLOADS if kind not in ("wav", "ogg")
             or isinstance(render.wav, bytes)]
    for column, kind in zip(st.columns(len(kinds)), kinds, strict=True):
        data = _on_click(render, kind) if kind in ON_CLICK else getattr(render, kind)
        column.download_button(LABELS[kind], data, file_name=f"{stem}-{FILE_NAMES[kind]}",
                               mime=MIME_TYPES[kind], on_click="ignore",
                               key=f"download-{kind}-{key}")


def _on_click(render: RiffRender, kind: str) -> Callable[[], bytes]:
    def build() -> bytes:
        data = getattr(render, kind)
        return data if isinstance(data, bytes) else data.encode("utf-8")  # the reason, as text

    return build


def show_gallery(root, regenerate: Callable[[gallery.GalleryEntry], None]) -> None:
    """Up to three saved riffs side by side; the choice survives saving and renaming."""
    entries = gallery.list_riffs(root)
    st.header("Gallery")
    if not entries:
        st.caption(f"No saved riffs yet in {root}.")
        return
    names = [entry.name for entry in entries]
    kept = [name for name in st.session_state.get(COMPARED, names[:1]) if name in names]
    # no key: the default is the kept choice, so new options (a save) do not reset it
    chosen = st.multiselect("Compare side by side", names, default=kept, max_selections=3)
    st.session_state[COMPARED] = chosen
    shown = [entry for name in chosen for entry in entries if entry.name == name]
    for column, entry in zip(st.columns(max(len(shown), 1)), shown, strict=False):
        with column:
            _show_entry(root, entry, regenerate)


def saved_render(entry: gallery.GalleryEntry) -> RiffRender:
    files = {kind: data for kind in DOWNLOADS if (data := entry.file(kind)) is not None}
    options = OutputOptions.from_dict(entry.record.get("output", {}))
    return RiffRender.from_files(entry.riff, options, files)


def _show_entry(root, entry: gallery.GalleryEntry, regenerate) -> None:
    from deeprock.generation.roll import riff_roll

    request = entry.record.get("request", {})
    st.markdown(f"**{entry.name}** · seed {request.get('seed')} · "
                f"variation {entry.record.get('variation', 0) + 1} · {entry.record.get('run')}")
    render = saved_render(entry)
    if "wav" in render.__dict__:
        st.audio(render.wav, format="audio/wav")
    st.plotly_chart(riff_roll(entry.riff, entry.name, render.options.meter),
                    key=f"gallery-roll-{entry.name}")
    downloads(render, entry.name, f"gallery-{entry.name}")
    if st.button("Regenerate with these settings", key=f"regenerate-{entry.name}",
                 help="The same run, primer, sampling settings and seed: the same riff"):
        regenerate(entry)
    new_name = st.text_input("New name", entry.name, key=f"rename-{entry.name}")
    left, right = st.columns(2)
    try:
        if left.button("Rename", key=f"rename-button-{entry.name}") and new_name != entry.name:
            renamed = gallery.rename_riff(root, entry.name, new_name)
            st.session_state[COMPARED] = [renamed.name if name == entry.name else name
                                          for name in st.session_state.get(COMPARED, [])]
            st.rerun()
        if right.button("Delete", key=f"delete-{entry.name}"):
            gallery.delete_riff(root, entry.name)
            st.rerun()
    except gallery.GalleryError as error:
        st.error(str(error))
