"""Practice playback: slower, counted in, with a click, played as a loop; all of it in the MIDI,
so the WAV and the Ogg rendered from it have it too.

    practice = Practice(tempo_percent=70, count_in=True, click=True, loop=True)
    riff_midi(riff, tempo_bpm=120, practice=practice)   # 84 bpm, one bar of clicks first

The practice tempo is a percent of the riff's tempo, not a BPM: learners step a riff up
("70 %, then 85 %, then 100 %"), as practice tools count (Guitar Pro's speed trainer, Transcribe!,
video players); the riff keeps its own tempo (tab, GP5, MusicXML, settings.json); and a percent
means the same thing whatever tempo the riff has. Rendered from MIDI, slower keeps the pitch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

TEMPO_PERCENTS = (25.0, 200.0)
CLICK_CHANNEL = 9  # General MIDI channel 10, percussion
CLICK_PITCHES = (76, 77)  # hi wood block on the bar's first beat, low wood block on the others
CLICK_VELOCITIES = (124, 92)

Note = tuple[int, int, int, int]  # (onset tick, duration ticks, pitch, velocity), as midi_out's


@dataclass(frozen=True)
class Practice:
    tempo_percent: float = 100.0  # of the riff's tempo
    count_in: bool = False  # one bar of clicks before the riff
    click: bool = False  # a click on every beat, the downbeat accented
    loop: bool = False  # a loop riff: the WAV ends exactly where the MIDI does

    def playback_bpm(self, tempo_bpm: float) -> float:
        """The tempo the MIDI (and so the audio) plays at, or a ValueError."""
        low, high = TEMPO_PERCENTS
        if not low <= self.tempo_percent <= high:
            raise ValueError(f"the practice tempo must be {low:g} to {high:g} % of the riff's, "
                             f"not {self.tempo_percent:g} %")
        return tempo_bpm * self.tempo_percent / 100.0

    def to_dict(self) -> dict:
        return asdict(self)


PLAIN = Practice()  # the riff as it is: its tempo, no count-in, no click


def click_notes(start_tick: int, end_tick: int, ticks_per_beat: int, beats_per_bar: int
                ) -> list[Note]:
    """One click a beat from start_tick (a bar line) until end_tick, accented on each bar line."""
    length = ticks_per_beat // 4  # a sixteenth: short enough to stay a click at any tempo
    notes = []
    for beat, onset in enumerate(range(start_tick, end_tick, ticks_per_beat)):
        kind = 0 if beat % beats_per_bar == 0 else 1
        notes.append((onset, min(length, end_tick - onset), CLICK_PITCHES[kind],
                      CLICK_VELOCITIES[kind]))
    return notes
