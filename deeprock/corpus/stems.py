"""Title stems: the folder and title numbered copies share ("a/Song_2.MID" → "a/song").

    title_stem("a/Song (2).mid")   # 'a/song'

Its own module because the catalog keeps each file's stem (files.title_stem, written by
put_file, indexed) and the duplicate search reads the same-stem groups from that index: both
need the one rule, and the catalog imports nothing of the search.
"""

from __future__ import annotations

import os
import re

# a name is its title plus an optional number: "Song_2", "Song 2", "Song-2", "Song (2)",
# "Song_v2", or one digit straight after a letter ("Song2", but "Blink182" is a title)
NUMBERED = re.compile(r"(?P<title>.*?[^\W\d_])(?:[ _-]*\(\d{1,2}\)|[ _-]+v?\d{1,2}|\d)?")
# a number after these words is part of the title: "Part 2" is another song than "Part 1"
TITLE_NUMBER_WORDS = {"part", "pt", "vol", "volume", "no", "nr", "number", "op", "opus", "track",
                      "cd", "disc", "act", "chapter", "movement", "mvt", "book", "episode"}


def title_stem(path: str) -> str:
    """The folder and title a numbered name shares with its siblings: 'a/Song_2.MID' → 'a/song'."""
    folder, name = os.path.split(path)
    name = re.sub(r"[ _-]+", "_", os.path.splitext(name)[0].casefold().strip())
    match = NUMBERED.fullmatch(name)
    title = match["title"] if match else name
    if title.rsplit("_", 1)[-1] in TITLE_NUMBER_WORDS:
        title = name
    return f"{folder}/{title}"
