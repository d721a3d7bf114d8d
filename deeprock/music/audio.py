"""MIDI → WAV with FluidSynth and a General MIDI soundfont, failing loudly.

    info = render_wav("riff.mid", "riff.wav")   # WavInfo(seconds=..., peak=...)
    wav = midi_to_wav_bytes(midi_bytes)
    render_ogg("riff.mid", "riff.ogg")          # optional smaller download

The shape of muspy's wrapper: check the binary and the soundfont first, pass options before the
files, check the exit code. Not midi2audio (no longer a requirement): it puts the options after
the files, which FluidSynth 2.4.7 refuses (FluidSynth/fluidsynth#1614), and ignores the exit code.
FluidSynth itself exits 0 with a silent WAV for an unusable soundfont, so the WAV is read back:
it must exist, last at least as long as the MIDI, and not be silent.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tempfile
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import mido
import numpy as np

from deeprock.music.midi import load

SOUNDFONT_DIRS = (Path("/usr/share/sounds/sf2"), Path("/usr/share/soundfonts"))
SOUNDFONT_NAMES = ("FluidR3_GM.sf2", "TimGM6mb.sf2")  # preferred first
INSTALL_COMMAND = "sudo apt-get install fluidsynth fluid-soundfont-gm"
SILENT_PEAK = 1e-3  # -60 dBFS: below this the WAV holds nothing a listener hears
TAIL_SECONDS = 10.0  # release tails make the WAV ~2 s longer than the MIDI; more is wrong
SHORT_SECONDS = 0.25  # the WAV may end this much before the MIDI's last note-off
# fluidsynth exits 0 after these, having fallen back to its default soundfont or to nothing
FAILURE_MARKS = ("Failed to load", "not a SoundFont or MIDI file")


class AudioUnavailable(RuntimeError):
    """No fluidsynth binary or no soundfont: the message says how to install them."""


class AudioError(RuntimeError):
    """FluidSynth ran but gave no usable WAV (exit code, timeout, length, silence)."""


@dataclass(frozen=True)
class WavInfo:
    seconds: float
    peak: float  # largest absolute sample, 1.0 = full scale


def fluidsynth_binary() -> str:
    binary = shutil.which("fluidsynth")
    if binary is None:
        raise AudioUnavailable(f"fluidsynth is not installed; install it with: {INSTALL_COMMAND}")
    return binary


def find_soundfont(preferred: str | os.PathLike | None = None) -> Path:
    """The named soundfont (a path, or a file name in the soundfont folders), else FluidR3_GM,
    else TimGM6mb. A named one that is missing is an error, never a silent substitute."""
    if preferred is not None:
        named = Path(preferred)
        candidates = [named] + [folder / named.name for folder in SOUNDFONT_DIRS]
        found = next((path for path in candidates if path.is_file()), None)
        if found is None:
            raise AudioUnavailable(f"soundfont {preferred} not found (looked in "
                                   f"{', '.join(map(str, SOUNDFONT_DIRS))})")
        return _checked_soundfont(found)
    for name in SOUNDFONT_NAMES:
        for folder in SOUNDFONT_DIRS:
            if (folder / name).is_file():
                return _checked_soundfont(folder / name)
    raise AudioUnavailable(f"no General MIDI soundfont ({' or '.join(SOUNDFONT_NAMES)}) in "
                           f"{', '.join(map(str, SOUNDFONT_DIRS))}; install one with: "
                           f"{INSTALL_COMMAND} (or timgm6mb-soundfont, 6 MB)")


def _checked_soundfont(path: Path) -> Path:
    """A SoundFont 2 file starts 'RIFF' <size> 'sfbk'; fluidsynth renders silence otherwise."""
    with open(path, "rb") as handle:
        head = handle.read(12)
    if head[:4] != b"RIFF" or head[8:12] != b"sfbk":
        raise AudioError(f"{path} is not a SoundFont 2 file")
    return path.resolve()


def render_wav(midi_path: str | os.PathLike, wav_path: str | os.PathLike,
               soundfont: str | os.PathLike | None = None, sample_rate: int = 44100,
               timeout_s: float = 60) -> WavInfo:
    """Render a MIDI file to WAV (written atomically) and check what came out."""
    with _rendered(midi_path, wav_path, soundfont, sample_rate, timeout_s, "wav") as (
            temporary, midi_seconds, font):
        info = read_wav_info(temporary, midi_path)
        _check_wav(info, midi_seconds, midi_path, font)
    return info


def render_ogg(midi_path: str | os.PathLike, ogg_path: str | os.PathLike,
               soundfont: str | os.PathLike | None = None, sample_rate: int = 44100,
               timeout_s: float = 60) -> None:
    """The same as Ogg Vorbis (~13x smaller, for downloads), written by fluidsynth's libsndfile.

    Nothing installed decodes Vorbis, so the silence check is render_wav's: call it first.
    """
    with _rendered(midi_path, ogg_path, soundfont, sample_rate, timeout_s, "oga") as (
            temporary, _, _):
        if temporary.read_bytes()[:4] != b"OggS":
            raise AudioError(f"fluidsynth wrote no Ogg file for {midi_path}")


@contextmanager
def _rendered(midi_path: str | os.PathLike, out_path: str | os.PathLike,
              soundfont: str | os.PathLike | None, sample_rate: int, timeout_s: float,
              file_type: str) -> Iterator[tuple[Path, float, Path]]:
    """Check the inputs, render to a temporary beside out_path, yield (temporary, MIDI length,
    soundfont) for checking, then move it into place; nothing is left behind on failure."""
    binary = fluidsynth_binary()
    font = find_soundfont(soundfont)
    song = load(midi_path)
    if song.status == "failed":
        raise AudioError(f"{midi_path} is not a readable MIDI file: {song.error}")
    if not any(len(track.notes) for track in song.tracks):
        raise AudioError(f"{midi_path} has no notes to render")
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=out_path.parent, prefix=f".{out_path.name}.")
    os.close(fd)
    try:
        _run_fluidsynth([binary, "-ni", "-T", file_type, "-F", temporary, "-r", str(sample_rate),
                         str(font), str(midi_path)], timeout_s, midi_path)
        yield Path(temporary), song.length_seconds, font
        os.replace(temporary, out_path)
    finally:
        Path(temporary).unlink(missing_ok=True)


def _run_fluidsynth(command: list[str], timeout_s: float, midi_path: str | os.PathLike) -> None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s,
                              stdin=subprocess.DEVNULL, check=False)
    except subprocess.TimeoutExpired as error:
        raise AudioError(f"fluidsynth took more than {timeout_s:g} s on {midi_path}") from error
    failures = [line for line in done.stderr.splitlines()
                if any(mark in line for mark in FAILURE_MARKS)]
    if done.returncode != 0 or failures:
        detail = (failures or (done.stderr or done.stdout).strip().splitlines()[-1:]
                  or ["no message"])
        raise AudioError(f"fluidsynth failed on {midi_path} (exit {done.returncode}): "
                         f"{detail[0].strip()}")


def read_wav_info(path: Path, midi_path: str | os.PathLike = "") -> WavInfo:
    """Length and peak of a PCM WAV (fluidsynth writes 16-bit by default)."""
    try:
        with wave.open(str(path), "rb") as wav:
            frames, rate, width = wav.getnframes(), wav.getframerate(), wav.getsampwidth()
            samples = wav.readframes(frames)
    except (OSError, EOFError, wave.Error) as error:
        raise AudioError(f"fluidsynth wrote no readable WAV for {midi_path}: {error}") from error
    dtypes = {1: np.uint8, 2: np.int16, 4: np.int32}
    if width not in dtypes:
        raise AudioError(f"fluidsynth wrote {8 * width}-bit samples for {midi_path}")
    values = np.frombuffer(samples, dtypes[width]).astype(np.float64)
    if width == 1:
        values -= 128
    full_scale = float(2 ** (8 * width - 1))
    peak = float(np.abs(values).max(initial=0.0)) / full_scale
    return WavInfo(seconds=frames / rate if rate else 0.0, peak=peak)


def _check_wav(info: WavInfo, midi_seconds: float, midi_path: str | os.PathLike,
               font: Path) -> None:
    if info.seconds < midi_seconds - SHORT_SECONDS:
        raise AudioError(f"the WAV of {midi_path} lasts {info.seconds:.2f} s, the MIDI "
                         f"{midi_seconds:.2f} s: fluidsynth stopped early")
    if info.seconds > midi_seconds + TAIL_SECONDS:
        raise AudioError(f"the WAV of {midi_path} lasts {info.seconds:.2f} s, the MIDI only "
                         f"{midi_seconds:.2f} s")
    if info.peak < SILENT_PEAK:
        raise AudioError(f"the WAV of {midi_path} is silent (peak {info.peak:.1e}): soundfont "
                         f"{font} is unusable or lacks the instruments")


def midi_to_wav_bytes(midi: bytes, soundfont: str | os.PathLike | None = None,
                      exact_length: bool = False) -> bytes:
    """The same for bytes in memory (a page's riff): WAV bytes back. exact_length: as long as
    the MIDI to the sample (its end of track), for a loop (exact_wav says why)."""
    data = _in_memory(render_wav, midi, "wav", soundfont)
    if exact_length:
        data = exact_wav(data, mido.MidiFile(file=io.BytesIO(midi)).length)
    return data


def midi_to_ogg_bytes(midi: bytes, soundfont: str | os.PathLike | None = None) -> bytes:
    """Ogg Vorbis bytes of in-memory MIDI (render_ogg: call midi_to_wav_bytes first)."""
    return _in_memory(render_ogg, midi, "ogg", soundfont)


def _in_memory(render, midi: bytes, suffix: str, soundfont: str | os.PathLike | None) -> bytes:
    with tempfile.TemporaryDirectory(prefix="deeprock-audio-") as folder:
        midi_path, out_path = Path(folder) / "riff.mid", Path(folder) / f"riff.{suffix}"
        midi_path.write_bytes(midi)
        render(midi_path, out_path, soundfont)
        return out_path.read_bytes()


def exact_wav(data: bytes, seconds: float) -> bytes:
    """The WAV cut, or padded with silence, to `seconds`: a loop's release tail would play as
    a gap before every repeat when the file is looped, and a loop needs no ending."""
    with wave.open(io.BytesIO(data), "rb") as reader:
        params = reader.getparams()
        frames = reader.readframes(params.nframes)
    size = round(seconds * params.framerate) * params.sampwidth * params.nchannels
    silence = b"\x80" if params.sampwidth == 1 else b"\0"  # 8-bit WAV is unsigned
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setparams(params)
        writer.writeframes(frames[:size].ljust(size, silence))
    return out.getvalue()
