"""The bass idioms of the procedural corpus, as data: which steps a bass player of each style
plays, how the kick drum pulls the line, and which chord or scale degree each beat strength gets.

:mod:`jamd.data.bass_lines` reads these tables; docs/bass.md shows them as a table of idioms.

Two section knobs drive every idiom, and they are what the model's pad is trained to read:

* ``busy`` (0..1): how many of the idiom's optional steps are played, in the idiom's order of
  priority (and, in funk, how many ghost notes);
* ``melodic`` (0..1): the *level* 0..3 that picks the degree ladders (level 0 stays on the
  root, level 3 walks chord and scale tones and approaches the next chord), and the register
  (the lower half of the knob plays an octave down: rooted and low <-> melodic and higher).

Degrees are tokens, resolved against the chord quality in :mod:`jamd.data.bass_lines`:
``R`` root, ``O`` octave above, ``5`` fifth, ``5v`` fifth below, ``3`` third, ``7`` seventh
(b7 over min/dom7/min7, maj7 over maj), ``6`` sixth, ``2`` second, ``4`` fourth, ``A`` an
approach to the next chord's root (a scale step next to it, or from ``chromatic`` level on a
half step), ``N`` the next chord's root anticipated, ``=`` the previous note again.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from jamd.music.harmony import DOM7, MAJ, MIN, MIN7

BAR = 16
LEVELS = 4  # melodic levels: 0 = root only ... 3 = chord tones, scale tones, approaches


class KickRule(Enum):
    """How the kick drum pulls the line (the syncopation that follows the drums)."""

    ALL = "every kick step is a bass onset"
    BEATS = "kicks on quarter-note steps are onsets"
    LEAD = "the bar's first kick is an onset; the other kicks come first among the optional steps"
    FIRST = "kicks come first among the optional steps"
    NONE = "the line ignores the kick"


class Strength(Enum):
    """Where a step sits in the bar: what a bass player plays there depends on it."""

    ONE = "a chord's first step"
    MID = "beat 3"
    BEAT = "beats 2 and 4"
    OFF = "the off-beat 8ths"
    SIXTEENTH = "the 16ths in between"


def strength(step: int) -> Strength:
    """Beat strength of a step that is not a chord's first step."""
    if step % 8 == 0:
        return Strength.MID
    if step % 4 == 0:
        return Strength.BEAT
    return Strength.OFF if step % 2 == 0 else Strength.SIXTEENTH


Ladder = tuple[tuple[str, ...], ...]  # one cycle of degree tokens per melodic level 0..3


@dataclass(frozen=True)
class Idiom:
    name: str
    says: str  # what a bass player would call it (docs/bass.md)
    base: tuple[int, ...]  # steps always played
    optional: tuple[int, ...]  # steps added by ``busy``, in order of priority
    kicks: KickRule
    ladders: dict[Strength, Ladder]  # degree cycle per strength and level (ONE: chord starts)
    max_length: int  # longest note in steps (16: legato, held into the next onset)
    velocity: float  # base velocity; kicks and chord starts are accented
    feel: tuple[float, float]  # mean micro-timing offset in steps (laid back > 0) and spread
    approach: int = LEVELS  # from this level on, the last onset before a chord change approaches it
    approach_from: int = 4  # ... when it is at most this many steps before the change
    chromatic: int = LEVELS  # from this level on, the approach is a half step (not in the scale)
    ghosts: tuple[int, ...] = ()  # steps for muted ghost notes, in order of priority (by busy)
    anticipate: int = -1  # a step whose note is the next chord's root, tied over the bar line


ROOT: Ladder = (("R",), ("R",), ("R",), ("R",))


#: The idioms, one block each: ``name | what a bass player calls it``; then the settings (the
#: fields of :class:`Idiom`, ``;``-separated: the rhythm, then the sound); then one ladder
#: per beat strength (``mid``, ``beat``, ``off``, ``sixteenth``: :class:`Strength`), its levels
#: 0..3 separated by ``|``, each level a cycle of degree tokens ("5 3" plays the fifth, then
#: the third, then the fifth ...). A chord's first step is always its root.
IDIOM_TEXT = """
rock | root-fifth-octave 8ths on the kick
    base 0 8 ; optional 12 4 14 6 10 2 ; kicks ALL
    max_length 3 ; velocity 0.72 ; feel -0.02 0.05 ; approach 2 ; approach_from 2
    mid R | 5 | 5 3 | 3 5
    beat 5 R | 5 O | 3 5 | 3 6
    off R O R 5 | O 5 R 5 | O 5 3 5 | 5 3 2 5
    sixteenth R | 5 | 5 3 | 3 2

funk | 16ths on the kick, octave pops, ghost notes, chromatic approaches
    base 0 ; optional 10 6 14 3 ; kicks ALL ; ghosts 5 13 9 1
    max_length 2 ; velocity 0.74 ; feel 0.0 0.04 ; approach 2 ; approach_from 1 ; chromatic 3
    mid R | 5 O | 7 5 | 5 3
    beat O | O 7 | 7 5 | 3 7
    off O 5 O O | O 5 O 7 | O 4 7 7 | 7 4 3 5
    sixteenth R 5 | 5 7 | 7 5 | 3 7 5 2

disco | octaves: the root on the beat, the octave on every off-beat 8th
    base 0 2 8 10 ; optional 4 6 12 14 15 7 ; kicks NONE
    max_length 2 ; velocity 0.75 ; feel 0.0 0.03
    mid R | 5 | 3 5 | 5 3
    beat R | 5 R | 5 3 | 3 5 6
    off O | O | O | O
    sixteenth O | 5 | 5 7 | 7 6

jazz | walking quarters: chord tones on 1 and 3, passing and approach tones between
    base 0 4 8 12 ; optional 14 6 ; kicks NONE
    max_length 16 ; velocity 0.64 ; feel 0.03 0.06 ; approach 1 ; chromatic 3
    mid 5 | 5 | 3 5 | 5 3
    beat R 5 | 3 6 | 2 4 6 | 3 2 6 4
    off = | = | = | =
    sixteenth = | = | = | =

reggae | one-drop: the one is a rest, the line lands on beat 3 with the kick
    base 8 ; optional 10 14 6 4 2 12 ; kicks FIRST
    max_length 4 ; velocity 0.78 ; feel 0.08 0.05
    mid R | R | R | R
    beat 5 | 5 3 | 3 5 | 5 3 6
    off R 5 | 5 3 | 3 5 | 5 3 2 6
    sixteenth 5 | 3 | 5 | 3 2

latin | tumbao: the fifth on the and of 2, the next chord's root anticipated on 4
    base 6 12 ; optional 3 10 14 ; kicks FIRST
    max_length 16 ; velocity 0.8 ; feel 0.0 0.05 ; anticipate 12
    mid R | 5 | 3 | 3 5
    beat R | R | 5 | 3
    off 5 | 5 | 5 3 | 5 7 3
    sixteenth R | O | 3 | 3 2

hiphop | sparse sub notes that sit on the kick, held
    base ; optional ; kicks LEAD
    max_length 8 ; velocity 0.85 ; feel 0.06 0.05
    mid R | 5v | 5v 3 | 3 5v
    beat R | 5 | 5 7 | 7 5
    off O 5 | O 5 | 5 7 | 7 3
    sixteenth R | 5v | 3 | 3 4

ballad | half notes, legato; quarters and pickups as it gets busier
    base 0 8 ; optional 12 4 14 6 ; kicks BEATS
    max_length 16 ; velocity 0.6 ; feel 0.02 0.04 ; approach 2
    mid 5 | 5 | 3 5 | 3
    beat R | 5 | 5 6 | 2 3 6
    off R | R | O 5 | 4 6 7
    sixteenth R | R | R | R
"""


def _ladder(text: str) -> Ladder:
    levels = tuple(tuple(level.split()) for level in text.split("|"))
    if len(levels) != LEVELS or not all(levels):
        raise ValueError(f"a ladder needs {LEVELS} non-empty levels: {text!r}")
    return levels


def _setting(key: str, values: list[str]) -> object:
    if key == "kicks":
        return KickRule[values[0]]
    if key == "velocity":
        return float(values[0])
    if key == "feel":
        return (float(values[0]), float(values[1]))
    if key in ("base", "optional", "ghosts"):
        return tuple(int(v) for v in values)
    return int(values[0])


def parse_idioms(text: str) -> tuple[Idiom, ...]:
    """The :class:`Idiom` rows of a text in :data:`IDIOM_TEXT`'s format."""
    out = []
    for block in text.strip().split("\n\n"):
        head, *lines = (line.strip() for line in block.splitlines())
        name, says = (part.strip() for part in head.split("|", 1))
        fields, ladders = {}, {Strength.ONE: ROOT}
        for line in lines:
            first, rest = line.split(None, 1)
            if first.upper() in Strength.__members__:
                ladders[Strength[first.upper()]] = _ladder(rest)
                continue
            for item in line.split(";"):
                key, *values = item.split()
                fields[key] = _setting(key, values)
        out.append(Idiom(name, says, ladders=ladders, **fields))  # type: ignore[arg-type]
    return tuple(out)


IDIOMS_TABLE = parse_idioms(IDIOM_TEXT)
IDIOM = {i.name: i for i in IDIOMS_TABLE}
IDIOMS = tuple(IDIOM)

#: GMD top-level style -> idiom. A style that is not listed (user files) plays rock.
STYLE_IDIOM = {
    "rock": "rock",
    "punk": "rock",
    "country": "rock",
    "middleeastern": "rock",
    "funk": "funk",
    "soul": "funk",
    "neworleans": "funk",
    "afrobeat": "funk",
    "dance": "disco",
    "jazz": "jazz",
    "blues": "jazz",
    "reggae": "reggae",
    "hiphop": "hiphop",
    "latin": "latin",
    "afrocuban": "latin",
    "highlife": "latin",
    "pop": "ballad",
    "gospel": "ballad",
}

#: Progressions per idiom in Roman numerals, one chord per bar (``+`` splits a bar evenly):
#: upper case major, lower case minor, ``7`` the seventh (dominant over major, minor over
#: minor), ``b`` a half step down. Each piece loops one of its idiom's progressions.
PROGRESSION_TEXT = {
    "rock": ("I IV V IV", "I bVII IV I", "I V vi IV", "i bVI bVII i"),
    "funk": ("i7 i7", "I7 IV7", "i7 IV7"),
    "disco": ("i7 iv7", "I vi7 ii7 V7"),
    "jazz": ("ii7 V7 I VI7", "I vi7 ii7+V7 I", "i7 IV7 bVII bVII", "I7 IV7 I7 V7"),
    "reggae": ("I IV", "i iv", "I V IV V"),
    "latin": ("i iv V7 i", "I V7", "i7 IV7"),
    "hiphop": ("i bVI", "i7 iv7", "i i bVI v"),
    "ballad": ("I vi IV V", "I V vi IV", "I IV ii7 V7"),
}
_DEGREES = {"i": 0, "ii": 2, "iii": 4, "iv": 5, "v": 7, "vi": 9, "vii": 11}


def roman(symbol: str) -> tuple[int, int]:
    """ "bVII" -> (10, MAJ), "ii7" -> (2, MIN7), "V7" -> (7, DOM7): (interval from the key, quality)."""
    flat = symbol.startswith("b")
    numeral = symbol[flat:].rstrip("7")
    seventh = symbol.endswith("7")
    if numeral.lower() not in _DEGREES or numeral not in (numeral.upper(), numeral.lower()):
        raise ValueError(f"not a Roman numeral chord: {symbol!r}")
    minor = numeral.islower()
    quality = (MIN7 if seventh else MIN) if minor else (DOM7 if seventh else MAJ)
    return (_DEGREES[numeral.lower()] - flat) % 12, quality


#: The same as lists of bars, each bar a list of (interval from the key, quality).
PROGRESSIONS = {
    idiom: [[[roman(c) for c in bar.split("+")] for bar in prog.split()] for prog in progs]
    for idiom, progs in PROGRESSION_TEXT.items()
}


def idiom_of(style: str) -> str:
    return STYLE_IDIOM.get(style, "rock")
