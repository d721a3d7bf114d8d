"""Everything a riff becomes, in memory: MIDI, WAV, Ogg, tab text, Guitar Pro 5, MusicXML.

    files = riff_files(riff, OutputOptions(program=29, tuning="drop-d"), formats=("mid", "txt"))
    options = OutputOptions(meter=parse_meter("3/4"))   # every file in bars of 36 twelfths
    files.data["mid"]; files.problems   # {"wav": "fluidsynth is not installed; ..."}
    render = RiffRender(riff, options); render.txt; render.gp5   # one fingering for both
    render = RiffRender.from_files(riff, options, saved)          # a gallery riff's own files

One place for the CLI, the page and the gallery, so the three always agree. The audio may be
unavailable (no fluidsynth, no soundfont): that is a problem reported beside the other files,
never a failure of the whole riff. The riff's meter (4/4 unless chosen, an upload's own on the
page) gives every file its bars: the MIDI's time signature, MusicXML's and GP5's measures, the
tab's bar lines, the piano roll's grid; the riff's first onset is a bar line.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from deeprock.generation.practice import PLAIN, Practice
from deeprock.generation.riff import Riff
from deeprock.music.tokens import TWELFTHS_PER_QUARTER, meter_bar_twelfths

if TYPE_CHECKING:
    from deeprock.tab.tab import Fingering

FORMATS = ("mid", "wav", "txt", "gp5", "musicxml")  # what the CLI writes and the gallery saves
DOWNLOADS = ("mid", "wav", "ogg", "txt", "gp5", "musicxml")  # Ogg: ~13x smaller than the WAV
FILE_NAMES = {"mid": "riff.mid", "wav": "riff.wav", "ogg": "riff.ogg", "txt": "tab.txt",
              "gp5": "riff.gp5", "musicxml": "riff.musicxml"}
MIME_TYPES = {"mid": "audio/midi", "wav": "audio/wav", "ogg": "audio/ogg", "txt": "text/plain",
              "gp5": "application/octet-stream",
              "musicxml": "application/vnd.recordare.musicxml+xml"}
COMMON_METERS = ((4, 4), (3, 4), (2, 4), (6, 8), (12, 8), (5, 4), (7, 8))
MAX_METER = 32  # the largest numerator and denominator a riff's meter may have


def check_meter(numerator: int, denominator: int) -> tuple[int, int]:
    """(numerator, denominator) as ints, or a ValueError saying what a riff's meter may be."""
    numerator, denominator = int(numerator), int(denominator)
    if not 1 <= numerator <= MAX_METER:
        raise ValueError(f"the meter {numerator}/{denominator} needs a numerator of 1 to "
                         f"{MAX_METER}")
    if not 1 <= denominator <= MAX_METER or denominator & (denominator - 1):
        raise ValueError(f"the meter {numerator}/{denominator} needs a denominator that is a "
                         f"power of two from 1 to {MAX_METER} (1, 2, 4, 8, 16, 32)")
    if numerator * 4 * TWELFTHS_PER_QUARTER % denominator:  # 3/32: its bars would drift
        raise ValueError(f"a bar of {numerator}/{denominator} is not a whole number of "
                         "twelfths of a quarter (the riff's grid)")
    return numerator, denominator


def parse_meter(text: str) -> tuple[int, int]:
    """'3/4' → (3, 4), checked; a ValueError names the text."""
    numerator, slash, denominator = text.strip().partition("/")
    if not slash or not numerator.strip().isdigit() or not denominator.strip().isdigit():
        raise ValueError(f"the meter {text!r} is not NUMERATOR/DENOMINATOR, such as 3/4")
    return check_meter(int(numerator), int(denominator))


def meter_text(meter: tuple[int, int]) -> str:
    return f"{meter[0]}/{meter[1]}"


@dataclass(frozen=True)
class OutputOptions:
    program: int = 30  # distortion guitar; 29 overdriven, 27 clean, 25 acoustic
    tempo_bpm: float = 120.0
    primer_mode: str = "marker"  # marker | track | omit
    backing: bool = False
    tuning: str = "standard"
    capo: int = 0
    soundfont: str | None = None
    practice: Practice = PLAIN  # playback tempo, count-in, click, loop (in the MIDI and audio)
    meter: tuple[int, int] = (4, 4)  # (numerator, denominator): the bars of every file

    def __post_init__(self) -> None:
        object.__setattr__(self, "meter", check_meter(*self.meter))  # JSON gives a list

    @property
    def bar_twelfths(self) -> int:
        return meter_bar_twelfths(*self.meter)

    @property
    def bar_quarters(self) -> float:
        return self.bar_twelfths / TWELFTHS_PER_QUARTER

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> OutputOptions:
        """A settings.json's output; one saved before practice audio plays plain, one saved
        before the meter in 4/4 (all riffs were)."""
        return cls(**{**data, "practice": Practice(**data.get("practice") or {})})


@dataclass
class RiffFiles:
    data: dict[str, bytes] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)
    difficulty: float | None = None


def written_part(riff: Riff, options: OutputOptions) -> Riff:
    """What tab, GP5 and MusicXML show: the whole riff, or only the generated part."""
    return riff.generated() if options.primer_mode == "omit" else riff


class RiffRender:
    """One riff under one set of options; each output is built on first use and then kept.

    So the tab text, the GP5 file and the page share one fingering (the tab's dynamic
    programming is the costly step), and a riff asked only for its tab never builds a MIDI.
    The page keeps one per variation, so a later download or a save reuses what was built.
    """

    def __init__(self, riff: Riff, options: OutputOptions) -> None:
        self.riff, self.options = riff, options

    @classmethod
    def from_files(cls, riff: Riff, options: OutputOptions, files: dict[str, bytes]
                   ) -> RiffRender:
        """A render whose outputs start as files already made (a saved riff's): those are
        served as they are, the others built on first use."""
        render = cls(riff, options)
        render.__dict__.update({kind: data for kind, data in files.items() if kind in DOWNLOADS})
        return render

    @cached_property
    def part(self) -> Riff:
        return written_part(self.riff, self.options)

    @cached_property
    def tuning(self) -> tuple[int, ...]:
        from deeprock.tab.tab import parse_tuning

        return parse_tuning(self.options.tuning)

    @cached_property
    def onsets_quarters(self) -> list[float]:
        return (self.part.onsets_twelfths() / TWELFTHS_PER_QUARTER).tolist()

    @cached_property
    def fingering(self) -> Fingering:
        from deeprock.tab.tab import fret_chords

        return fret_chords(self.part.chords(), self.tuning, self.options.capo,
                           onsets_quarters=self.onsets_quarters)

    @cached_property
    def mid(self) -> bytes:
        from deeprock.generation.midi_out import riff_midi

        options = self.options
        return riff_midi(self.riff, program=options.program, tempo_bpm=options.tempo_bpm,
                         primer=options.primer_mode, backing=options.backing,
                         practice=options.practice, meter=options.meter)

    @cached_property
    def generated_quarters(self) -> float | None:
        """Where the tab marks the generated part's start: None when the tab shows no primer."""
        part = self.part
        if not part.primer_length or part.primer_length == len(part):
            return None
        return part.generated_onset_twelfths() / TWELFTHS_PER_QUARTER

    def tab_systems(self, **page) -> list[str]:
        """The tab's systems (tabtext.tab_systems' paging arguments), the primer's end marked."""
        from deeprock.tab.tabtext import tab_systems

        return tab_systems(self.fingering, self.onsets_quarters, self.tuning,
                           bar_quarters=self.options.bar_quarters,
                           mark_quarters=self.generated_quarters, **page)

    @cached_property
    def txt(self) -> bytes:
        return "\n\n".join(self.tab_systems()).encode("utf-8")

    @cached_property
    def gp5(self) -> bytes:
        from deeprock.tab.gp5 import gp5_bytes

        durations = (self.part.duration_twelfths / TWELFTHS_PER_QUARTER).tolist()
        return gp5_bytes(self.onsets_quarters, durations, self.fingering, self.tuning,
                         self.options.tempo_bpm, capo=self.options.capo,
                         program=self.options.program, meter=self.options.meter)

    @cached_property
    def musicxml(self) -> bytes:
        from deeprock.generation.musicxml import riff_musicxml

        return riff_musicxml(self.part, self.options.program, self.options.tempo_bpm,
                             self.options.meter)

    @cached_property
    def wav(self) -> bytes | str:
        """The audio, or why there is none (no fluidsynth, no soundfont, a failed render)."""
        from deeprock.music.audio import AudioError, AudioUnavailable, midi_to_wav_bytes

        try:
            return midi_to_wav_bytes(self.mid, self.options.soundfont,
                                     exact_length=self.options.practice.loop)
        except (AudioUnavailable, AudioError) as error:
            return str(error)

    @cached_property
    def ogg(self) -> bytes | str:
        """The Ogg download, or why there is none; made after the WAV, whose check it needs."""
        from deeprock.music.audio import AudioError, AudioUnavailable, midi_to_ogg_bytes

        if isinstance(self.wav, str):
            return self.wav
        try:
            return midi_to_ogg_bytes(self.mid, self.options.soundfont)
        except (AudioUnavailable, AudioError) as error:
            return str(error)

    def files(self, formats: tuple[str, ...] = FORMATS) -> RiffFiles:
        """The asked formats; an option they cannot use (program, tempo, tuning) raises."""
        unknown = set(formats) - set(FORMATS)
        if unknown:
            raise ValueError(f"unknown output formats {sorted(unknown)}: choose from {FORMATS}")
        files = RiffFiles()
        for kind in FORMATS:
            if kind in formats:
                data = getattr(self, kind)
                if isinstance(data, str):
                    files.problems[kind] = data
                else:
                    files.data[kind] = data
        if "txt" in formats or "gp5" in formats:
            files.difficulty = self.fingering.difficulty
        return files


def riff_files(riff: Riff, options: OutputOptions, formats: tuple[str, ...] = FORMATS
               ) -> RiffFiles:
    """The riff in every asked format, each built once (RiffRender keeps them for reuse)."""
    return RiffRender(riff, options).files(formats)
