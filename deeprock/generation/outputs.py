"""Everything a riff becomes, in memory: MIDI, WAV, tab text, Guitar Pro 5, MusicXML.

    files = riff_files(riff, OutputOptions(program=29, tuning="drop-d"), formats=("mid", "txt"))
    files.data["mid"]; files.problems   # {"wav": "fluidsynth is not installed; ..."}

One place for the CLI, the page and the gallery, so the three always agree. The audio may be
unavailable (no fluidsynth, no soundfont): that is a problem reported beside the other files,
never a failure of the whole riff.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from deeprock.generation.riff import Riff
from deeprock.music.tokens import TWELFTHS_PER_QUARTER

FORMATS = ("mid", "wav", "txt", "gp5", "musicxml")
FILE_NAMES = {"mid": "riff.mid", "wav": "riff.wav", "txt": "tab.txt", "gp5": "riff.gp5",
              "musicxml": "riff.musicxml"}
MIME_TYPES = {"mid": "audio/midi", "wav": "audio/wav", "txt": "text/plain",
              "gp5": "application/octet-stream",
              "musicxml": "application/vnd.recordare.musicxml+xml"}


@dataclass(frozen=True)
class OutputOptions:
    program: int = 30  # distortion guitar; 29 overdriven, 27 clean, 25 acoustic
    tempo_bpm: float = 120.0
    primer_mode: str = "marker"  # marker | track | omit
    backing: bool = False
    tuning: str = "standard"
    capo: int = 0
    soundfont: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class RiffFiles:
    data: dict[str, bytes] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)
    difficulty: float | None = None


def written_part(riff: Riff, options: OutputOptions) -> Riff:
    """What tab, GP5 and MusicXML show: the whole riff, or only the generated part."""
    return riff.generated() if options.primer_mode == "omit" else riff


def tab_and_gp5(riff: Riff, options: OutputOptions, gp5: bool) -> tuple[str, bytes | None,
                                                                         float]:
    """The tab text (and the GP5 file) of one fingering, with its difficulty."""
    from deeprock.tab.gp5 import gp5_bytes
    from deeprock.tab.tab import fret_chords, parse_tuning
    from deeprock.tab.tabtext import tab_text

    tuning = parse_tuning(options.tuning)
    onsets = (riff.onsets_twelfths() / TWELFTHS_PER_QUARTER).tolist()
    durations = (riff.duration_twelfths / TWELFTHS_PER_QUARTER).tolist()
    fingering = fret_chords(riff.chords(), tuning, options.capo, onsets_quarters=onsets)
    text = tab_text(fingering, onsets, tuning)
    data = (gp5_bytes(onsets, durations, fingering, tuning, options.tempo_bpm,
                      capo=options.capo, program=options.program) if gp5 else None)
    return text, data, fingering.difficulty


def riff_files(riff: Riff, options: OutputOptions, formats: tuple[str, ...] = FORMATS
               ) -> RiffFiles:
    """The riff in every asked format; options errors (program, tempo, tuning) raise."""
    from deeprock.generation.midi_out import riff_midi

    unknown = set(formats) - set(FORMATS)
    if unknown:
        raise ValueError(f"unknown output formats {sorted(unknown)}: choose from {FORMATS}")
    files = RiffFiles()
    midi = riff_midi(riff, program=options.program, tempo_bpm=options.tempo_bpm,
                     primer=options.primer_mode, backing=options.backing)
    files.data["mid"] = midi
    part = written_part(riff, options)
    if "txt" in formats or "gp5" in formats:
        text, gp5, files.difficulty = tab_and_gp5(part, options, "gp5" in formats)
        if "txt" in formats:
            files.data["txt"] = text.encode("utf-8")
        if gp5 is not None:
            files.data["gp5"] = gp5
    if "musicxml" in formats:
        from deeprock.generation.musicxml import riff_musicxml

        files.data["musicxml"] = riff_musicxml(part, options.program, options.tempo_bpm)
    if "wav" in formats:
        _add_wav(files, midi, options)
    if "mid" not in formats:
        del files.data["mid"]
    return files


def _add_wav(files: RiffFiles, midi: bytes, options: OutputOptions) -> None:
    from deeprock.music.audio import AudioError, AudioUnavailable, midi_to_wav_bytes

    try:
        files.data["wav"] = midi_to_wav_bytes(midi, options.soundfont)
    except (AudioUnavailable, AudioError) as error:
        files.problems["wav"] = str(error)
