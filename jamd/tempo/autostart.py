"""The auto start (``drummer.start: auto``, experimental): lock onto a drummer who just starts
playing, no count-in, from the first bars of the groove.

Every hit (its voice and weight, as the tracker weighs it) is kept; once they span ``bars``
bars, every candidate tempo in the limits (``tempo_step`` apart) and every place of the bar's
one (a 24th of a beat apart) is scored against a template of where a backbeat groove's voices
fall in the bar: kick on 1 (and 3), snare on 2 and 4, hats and ride on the 8ths (less on the
16ths), a crash on the one, and the groove's first kick on the one (a groove whose half bars
are alike, kick on 1 and 3, snare on 2 and 4, says nothing else about which beat is the one).
Each hit counts by how near its place it falls. The tempo is then
refined by a line through the hits near the best grid's 16ths, and the bar's one is the next bar
line of that grid: the same :class:`CountInResult` a count-in gives, so the tracker starts from
it exactly as after a count-in (jamd starts on that one).

Why a template and not only how evenly the hits fall: hits that fit a tempo's 8ths fit every
faster tempo's too, and every beat of a steady groove looks alike; what tells the tempo from its
double and the one from the two is where the kick and the snare fall. So grooves without a
backbeat (four on the floor with no snare, a samba, a jazz ride) are not locked, or are locked
on the wrong one or the wrong tempo octave: it locks only when its best grid scores ``margin``
above every rival (another tempo, or another one at the same tempo), and drops hits older than
``max_bars`` bars while it waits. Pure logic: times come as arguments.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from enum import Enum

import numpy as np

from jamd.music.drumkit import VOICES
from jamd.music.grid import BEATS_PER_BAR, STEPS_PER_BEAT
from jamd.tempo.countin import CountInResult

_RES = 24  # places per beat the one may fall on
_BINS = BEATS_PER_BAR * _RES


class Start(Enum):
    """How the tracker finds the tempo and the one (``drummer.start``)."""

    COUNT_IN = "count_in"  # N even hits on the count-in notes
    AUTO = "auto"  # from the first bars of the groove (experimental)

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class AutoStartConfig:
    bars: float = 2.0  # lock after this many bars of playing (at the tempo found)
    max_bars: float = 4.0  # while not locked, hits older than this many bars are dropped
    tempo_step: float = 0.005  # the candidate tempos' spacing (a share: 0.5 %)
    fit_beats: float = 0.04  # how near its place a hit must fall to count fully (sd, beats)
    margin: float = 0.15  # the best grid must score this share above every rival ...
    same_tempo: float = 0.08  # ... a rival: a tempo further than this share, or the one moved
    other_one_beats: float = 0.375  # ... by more than this (an 8th and more) at the same tempo
    min_hits: int = 8
    #: the best grid's score per weight of hit (a hit on its place in the template scores 0.5
    #: to 1): below it the hits fit no groove (no lock, however far above its rivals)
    min_fit: float = 0.3
    #: ... and the same answer (tempo within ``same_tempo`` / 4, the one within half a beat)
    #: must come this many hits in a row (from a beat before ``bars``): a groove's answer
    #: stands still as hits come, noise's jumps
    confirm: int = 3
    #: the groove's first kick counts this many times on the one: what tells the one from the
    #: three in a groove whose two half bars are alike (kick on 1 and 3, snare on 2 and 4)
    opening: float = 4.0
    #: a mild preference for tempos near this (BPM; a log-normal over the tempo, this many
    #: octaves wide): what tells a groove from its half or double time when the template ties
    prior_bpm: float = 120.0
    prior_octaves: float = 2.0
    sixteenth: float = 0.5  # how much a hat, ride or tom on a 16th counts (on an 8th: 0.5)


#: Where each voice falls in a backbeat groove's bar, per 16th (the template the one is found
#: by): what tells the one from the two is kick on 1 (and 3) and snare on 2 and 4.
_QUARTERS, _EIGHTHS, _SIXTEENTHS = np.arange(0, 16, 4), np.arange(2, 16, 4), np.arange(1, 16, 2)


def _row(one: float, three: float, backbeat: float, eighth: float, sixteenth: float) -> np.ndarray:
    row = np.zeros(BEATS_PER_BAR * STEPS_PER_BEAT)
    row[_QUARTERS] = (one, backbeat, three, backbeat)
    row[_EIGHTHS] = eighth
    row[_SIXTEENTHS] = sixteenth
    return row


_ROWS = {
    "kick": _row(1.0, 0.7, 0.15, 0.3, 0.1),
    "snare": _row(0.0, 0.05, 1.0, 0.15, 0.1),
    "crash": _row(1.0, 0.2, 0.1, 0.1, 0.05),
}
_OPENING = len(VOICES)  # the template's last row: the first kick, on the one
_KICK = VOICES.index("kick")


def template(sixteenth: float) -> np.ndarray:
    """(voices + the opening, 16ths): hats, ride and toms keep time on the 8ths (and, with
    ``sixteenth``, the 16ths); the opening row is the one alone."""
    time = _row(0.5, 0.5, 0.5, 0.5, sixteenth)
    return np.array([*(_ROWS.get(v, time) for v in VOICES), np.eye(len(time))[0]])


class AutoStart:
    """Feed it the drummer's hits (:meth:`feed`) until it returns the tempo and the one."""

    def __init__(self, cfg: AutoStartConfig, min_bpm: float, max_bpm: float) -> None:
        self.cfg = cfg
        n = math.floor(math.log(max_bpm / min_bpm) / math.log1p(cfg.tempo_step)) + 1
        self.periods = 60.0 / max_bpm * (1.0 + cfg.tempo_step) ** np.arange(n)
        self.min_bpm, self.max_bpm = min_bpm, max_bpm
        self._hits: deque[tuple[float, int, float]] = deque()  # (s, voice, weight)
        self._opening: tuple[float, int, float] | None = None  # the first kick, kept
        self.template = template(cfg.sixteenth)
        self._template = np.conj(np.fft.rfft(self._spread(), axis=1))
        octaves = np.log2(60.0 / self.periods / cfg.prior_bpm) / cfg.prior_octaves
        self._prior = np.exp(-0.5 * octaves**2)
        self.confidence = 0.0  # the last try's best score over its rival's (1: a tie)
        self.fit = 0.0  # ... and that score per weight of hit
        self._last: tuple[float, float] | None = None  # the last try's (period, one)
        self._streak = 0

    def reset(self) -> None:
        self._hits.clear()
        self._opening = None
        self._last, self._streak = None, 0
        self.confidence = 0.0

    def feed(self, t_s: float, voice: int, weight: float) -> CountInResult | None:
        """One hit of ``voice`` with the tracker's ``weight``; the tempo and the one when it is
        sure of them."""
        self._hits.append((t_s, voice, weight))
        if voice == _KICK and self._opening is None:
            self._opening = (t_s, _OPENING, weight * self.cfg.opening)
        span = t_s - self._hits[0][0]
        if len(self._hits) < self.cfg.min_hits or span < self._beats(self.periods[0]):
            return None
        hits = np.array(self._hits)
        times = hits[:, 0]
        scored = hits if self._opening is None else np.vstack([hits, self._opening])
        scores = self._scores(scored[:, 0] - t_s, scored[:, 1].astype(int), scored[:, 2])
        p, shift = np.unravel_index(int(np.argmax(scores)), scores.shape)
        period = float(self.periods[p])
        while self._hits and self._hits[0][0] < t_s - self.cfg.max_bars * BEATS_PER_BAR * period:
            self._hits.popleft()
        if span < self._beats(period) - period:
            return None
        self.confidence = float(scores[p, shift] / max(self._rival(scores, int(p), int(shift)), 1e-9))
        self.fit = float(scores[p, shift] / hits[:, 2].sum())
        if self.confidence < 1.0 + self.cfg.margin or self.fit < self.cfg.min_fit:
            self._last, self._streak = None, 0
            return None
        one = t_s + shift / _RES * period
        self._streak = self._streak + 1 if self._same(period, one) else 1
        self._last = (period, one)
        if self._streak < self.cfg.confirm or span < self._beats(period):
            return None
        found = self._refine(times, period, one)
        self.reset()
        return found

    # ------------------------------------------------------------------------------ inside

    def _same(self, period: float, one: float) -> bool:
        """Is this the last try's answer: the same tempo, and the one on the same place?"""
        if self._last is None:
            return False
        last_period, last_one = self._last
        if abs(math.log(period / last_period)) > math.log1p(self.cfg.same_tempo / 4):
            return False
        off = ((one - last_one) / period) % BEATS_PER_BAR
        return min(off, BEATS_PER_BAR - off) < 0.5

    def _beats(self, period: float) -> float:
        """The span (s) of ``bars`` bars' hits: the last one lies an 8th before the bar line."""
        return (self.cfg.bars * BEATS_PER_BAR - 0.5) * period

    def _spread(self) -> np.ndarray:
        """The template on the fine places, each 16th's weight spread over ``fit_beats``."""
        fine = np.zeros((len(self.template), _BINS))
        fine[:, :: _RES // STEPS_PER_BEAT] = self.template
        places = np.arange(_BINS)
        dist = np.minimum(places, _BINS - places) / _RES
        kernel = np.exp(-0.5 * (dist / self.cfg.fit_beats) ** 2)
        return np.fft.irfft(np.fft.rfft(fine, axis=1) * np.fft.rfft(kernel), _BINS, axis=1)

    def _scores(self, rel_s: np.ndarray, voices: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """(tempos, places): how well the hits (times from now) fit each tempo with the one at
        each place from now: the hits' histogram per voice over the bar, correlated with the
        template."""
        places = np.round(rel_s[None, :] / self.periods[:, None] * _RES).astype(int) % _BINS
        hist = np.zeros((len(self.periods), len(self.template), _BINS))
        rows = np.broadcast_to(np.arange(len(self.periods))[:, None], places.shape)
        np.add.at(hist, (rows, np.broadcast_to(voices, places.shape), places), weights)
        spectrum = np.einsum("pvf,vf->pf", np.fft.rfft(hist, axis=2), self._template)
        return np.fft.irfft(spectrum, _BINS, axis=1) * self._prior[:, None]

    def _rival(self, scores: np.ndarray, p: int, shift: int) -> float:
        """The best score of another answer: another tempo, or another one at this tempo."""
        ratio = np.abs(np.log(self.periods / self.periods[p]))
        other_tempo = ratio > math.log1p(self.cfg.same_tempo)
        places = np.arange(_BINS)
        dist = np.minimum(np.abs(places - shift), _BINS - np.abs(places - shift)) / _RES
        other_one = dist > self.cfg.other_one_beats
        rival = other_tempo[:, None] | other_one[None, :]
        return float(scores[rival].max())

    def _refine(self, times: np.ndarray, period: float, one_s: float) -> CountInResult:
        """Lines through the hits near the grid's 16ths, over the last four beats, then all
        of them (the candidate tempos are a step apart: a grid laid from the newest hit may be
        off by a 16th at the oldest): the tempo, and the next bar line (at least a quarter of a
        beat ahead of the last hit, so jamd can start on it)."""
        for beats in (4.0, math.inf):
            recent = times[times >= times[-1] - beats * period]
            steps = (recent - one_s) / period * STEPS_PER_BEAT
            nearest = np.round(steps)
            near = np.abs(steps - nearest) < self.cfg.fit_beats * 2 * STEPS_PER_BEAT
            if np.count_nonzero(near) < 2 or np.ptp(nearest[near]) == 0:
                continue
            slope, one_s = np.polyfit(nearest[near] / STEPS_PER_BEAT, recent[near], 1)
            period = min(max(float(slope), 60.0 / self.max_bpm), 60.0 / self.min_bpm)
        ahead = (times[-1] + 0.25 * period - one_s) / (BEATS_PER_BAR * period)
        one = float(one_s) + math.ceil(ahead) * BEATS_PER_BAR * period
        return CountInResult(period, one, tuple(float(t) for t in times))


__all__ = ["AutoStart", "AutoStartConfig", "Start", "template"]
