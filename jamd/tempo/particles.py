"""Where the drummer's beat is, as a cloud of guesses: a particle filter over (beat, tempo).

Each particle is one guess: "the beat count is ``beat`` at the last hit, and a beat lasts
``exp(log_period)`` seconds". Between hits every guess moves on at its own tempo and wanders a
little (phase and tempo), and a few guesses jump to another tempo (a drummer's sudden change).
Each hit then weighs every guess by how well the hit fits the bar at that guess: near one of the
places in the beat a drum hits (8ths, 16ths, triplets), and more where this voice hits in this
drummer's bar (a template learnt over the first bars, when the count-in has just set the grid).
The beat jamd plays is the cloud's weighted mean.

Why this and not one best guess corrected hit by hit (the Kalman filter jamd had before):

* A single guess must decide, for every hit, which 8th it belongs to; when it decides wrong (a
  16th played early, a dense roll, a tempo change) the grid slides by an 8th and stays there,
  and the bars counted are off for the rest of the song. The cloud keeps the rival readings
  side by side until the following hits tell them apart, and the learnt bar tells a grid that
  slid by an 8th or a beat from the right one (the snare on 2 and 4, not on the "ands").
* No gates or change tests with thresholds: a tempo change is just the guesses that jumped
  fitting the next hits better; a false alarm is guesses that fit worse and fade.
* **The rate term**: a faster grid has more places per second, so any loose hit falls near one
  of them. Without a correction every roll of ghost notes pulls the cloud to double time (it
  did, in the tests). A hit's likelihood is therefore scaled by the guess's period: per second,
  every tempo's places carry the same total weight.

Pure logic: times (s, monotonic) come as arguments; a seeded generator makes every run of the
same hits give the same beats.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from jamd.music.drumkit import VOICES
from jamd.music.grid import BEATS_PER_BAR

#: the places in a beat a drum hit may belong to: the 8ths, the 16ths and the triplet 8ths
PLACES = np.array([0.0, 0.25, 1 / 3, 0.5, 2 / 3, 0.75])
#: how much each place is expected before a drummer's own bar is learnt (8ths most)
PLACE_PRIOR = np.array([1.0, 0.3, 0.15, 1.0, 0.15, 0.3])
_BINS = BEATS_PER_BAR * len(PLACES)  # the template's places in a bar
_PLACES_TO_NEXT = np.append(PLACES, 1.0)  # ... and the next beat's first, for a hit just before it


@dataclass(frozen=True)
class GridFilterConfig:
    particles: int = 400
    seed: int = 0  # the same hits give the same beats
    scatter_s: float = 0.03  # how far a hit (weight 1) falls from its place, typically
    phase_wander: float = 0.003  # beats, per square root of a beat
    tempo_wander: float = 0.003  # share of the period, per square root of a beat
    jump_rate: float = 0.03  # sudden tempo changes expected per beat ...
    jump_size: float = 0.05  # ... of about this share (sd)
    #: guesses that jump per beat (more than expected, so a change is found at once; their
    #: weight is corrected, so the cloud still believes in jumps only as much as jump_rate says)
    jump_tries: float = 0.3
    sharpness: float = 1.5  # how strongly one hit re-weighs the guesses (its weight times this)
    off_place: float = 0.05  # a hit on no place at all is this likely (share of a place's)
    learn_bars: int = 4  # the drummer's bar is learnt over the first bars after the start
    learn_rate: float = 0.02  # ... and then follows the groove this much a hit
    #: the tempo never goes further than this share from its own slow mean (over tempo_memory
    #: beats): a drummer changes tempo, but never doubles it without stopping
    tempo_span: float = 0.12
    tempo_memory_beats: float = 32.0
    start_phase_s: float = 0.02  # how unsure of the one a start leaves the cloud
    start_tempo: float = 0.025  # ... and of the tempo (share)
    #: lost: how well the hits fit (the log of their likelihood under the cloud), over about
    #: the last 10 hits, fell this far (nats) below its usual level (over about 100 hits) ...
    lost_drop: float = 1.5
    #: ... then the cloud is spread again: the tempo by this share (sd), the phase by a few ms
    #: and by up to a beat and a half either way in 8ths, and for lost_beats the tempo may go
    #: lost_span from its mean, so the drummer's new tempo and the bar are found again
    lost_tempo: float = 0.2
    lost_span: float = 0.35
    lost_beats: float = 8.0


class GridFilter:
    """Started at a tempo and a one (:meth:`__init__`), fed every hit (:meth:`hit`);
    :meth:`estimate` is where the beat is."""

    def __init__(
        self, cfg: GridFilterConfig, one_s: float, period_s: float, limits_s: tuple[float, float]
    ) -> None:
        self.cfg = cfg
        n = cfg.particles
        self._rng = np.random.default_rng(cfg.seed)
        self._t = one_s  # the time the particles' beats are at
        self._beat = self._rng.normal(0.0, cfg.start_phase_s / period_s, n)
        self._log_p = math.log(period_s) + self._rng.normal(0.0, cfg.start_tempo, n)
        self._log_w = np.zeros(n)
        self._log_limits = math.log(limits_s[0]), math.log(limits_s[1])
        self._log_p0 = math.log(period_s)  # the rate term's reference (any constant would do)
        self._log_mean_p = self._log_p0  # the slow mean the tempo stays near
        self._frozen: float | None = None  # tempo.lock: the period held
        prior = np.tile(PLACE_PRIOR, (len(VOICES), BEATS_PER_BAR))
        self._prior = prior / prior.sum(1, keepdims=True)
        self._template = self._prior.copy()
        self._counts = np.zeros_like(self._prior)  # the first bars' hits, per voice and place
        self._learnt = False
        self._est = (one_s, 0.0, period_s)
        self._fit_recent = self._fit_usual = 0.0  # how well the hits fit (see lost_drop)
        self._settled = float(cfg.learn_bars + 1) * BEATS_PER_BAR  # no lost test before
        self._wide_until = -math.inf  # the beat until which the tempo may go lost_span

    def lock_tempo(self, on: bool) -> None:
        """``tempo.lock``: every guess takes the period of the estimate and keeps it."""
        self._frozen = self._est[2] if on else None
        if on:
            self._log_p[:] = math.log(self._est[2])

    def estimate(self) -> tuple[float, float, float]:
        """(time s, the beat count at that time, period s)."""
        return self._est

    def confidence(self) -> float:
        """The share of the cloud within a 16th of a beat of its mean, at the last hit."""
        w = self._weights()
        return float(w[np.abs(self._beat - self._est[1]) < 1.0 / 16].sum())

    def hit(self, t_s: float, voice: int, weight: float) -> bool:
        """Weigh the guesses by a hit; True when the hits no longer fitted and the cloud was
        spread again to find the drummer anew."""
        self._advance(t_s)
        likely = self._likelihood(voice)
        fit = math.log(float(self._weights() @ likely))
        self._log_w += self.cfg.sharpness * weight * np.log(likely)
        self._log_w -= self._log_w.max()
        w = self._weights()
        beat = float(w @ self._beat)
        period = self._frozen or float(np.exp(w @ self._log_p))
        self._est = (t_s, beat, period)
        self._learn(voice, weight, beat)
        if self._lost(fit, beat):
            self._spread(beat)
            return True
        if 1.0 / float(np.sum(w * w)) < self.cfg.particles / 2:
            self._resample(w)
        return False

    # ------------------------------------------------------------------------------ inside

    def _lost(self, fit: float, beat: float) -> bool:
        """Do the recent hits fit clearly worse than usual? (A tempo jump too big for the
        guesses that try one, or a grid that slid.) The usual level is learnt after the first
        bars and does not follow a fall, so a slow slide is caught too."""
        self._fit_recent += 0.1 * (fit - self._fit_recent)
        if beat <= self._settled:
            self._fit_usual = self._fit_recent
            return False
        if self._fit_recent > self._fit_usual - self.cfg.lost_drop / 2:
            self._fit_usual += 0.01 * (fit - self._fit_usual)
        return self._fit_recent < self._fit_usual - self.cfg.lost_drop

    def _spread(self, beat: float) -> None:
        cfg, n = self.cfg, self.cfg.particles
        if self._frozen is None:
            self._log_p += self._rng.normal(0.0, cfg.lost_tempo, n)
        shifts = np.arange(-1.5, 1.75, 0.5)  # the bar's one may have slid by 8ths
        self._beat += self._rng.normal(0.0, cfg.start_phase_s / self._est[2], n) + self._rng.choice(shifts, n)
        self._log_w = np.zeros(n)
        self._wide_until = self._settled = beat + cfg.lost_beats
        self._fit_recent = self._fit_usual

    def _advance(self, t_s: float) -> None:
        """Every guess moves on to ``t_s`` at its own tempo, wandering as it goes."""
        cfg, n = self.cfg, self.cfg.particles
        dt, self._t = t_s - self._t, t_s
        beats = dt / np.exp(self._log_p)
        if dt <= 0:  # a hit a little before the one, or a flam: seen from where the cloud is
            self._beat += beats
            return
        phase_wander, tempo_wander = self._wander(beats)
        self._beat += beats + self._rng.normal(0.0, 1.0, n) * phase_wander * np.sqrt(beats)
        if self._frozen is not None:
            return
        self._log_p += self._rng.normal(0.0, 1.0, n) * tempo_wander * np.sqrt(beats)
        tries = max(cfg.jump_tries, cfg.jump_rate)
        if tries > 0:
            expected = np.minimum(cfg.jump_rate * beats, 0.5)
            tried = np.minimum(tries * beats, 0.5)
            jump = self._rng.random(n) < tried
            self._log_p[jump] += self._rng.normal(0.0, cfg.jump_size, int(jump.sum()))
            # importance weights: a jump is believed as often as expected, not as often as tried
            self._log_w += np.where(jump, np.log(expected / tried), np.log((1 - expected) / (1 - tried)))
        span = cfg.tempo_span
        if self._est[1] < self._wide_until:  # finding the drummer again after a lost grid
            self._log_mean_p, span = math.log(self._est[2]), cfg.lost_span
        self._log_mean_p += min(1.0, dt / self._est[2] / cfg.tempo_memory_beats) * (
            math.log(self._est[2]) - self._log_mean_p
        )
        lo = max(self._log_limits[0], self._log_mean_p - span)
        hi = min(self._log_limits[1], self._log_mean_p + span)
        np.clip(self._log_p, lo, hi, out=self._log_p)

    def _wander(self, beats: np.ndarray) -> tuple[float | np.ndarray, float | np.ndarray]:
        """How far each guess's beat and tempo wander a beat, over the next ``beats`` (one
        setting for all here; a trial, :mod:`jamd.lab.tempo_modes`, gives each its own)."""
        return self.cfg.phase_wander, self.cfg.tempo_wander

    def _likelihood(self, voice: int) -> np.ndarray:
        """How likely each guess makes a hit of ``voice`` now: near a place of its bar where
        this voice hits, per second (the rate term: see the module's doc)."""
        whole = np.floor(self._beat)
        frac = self._beat - whole
        sd = self.cfg.scatter_s / np.exp(self._log_p)  # in beats, per guess
        first = (whole.astype(int) % BEATS_PER_BAR) * len(PLACES)
        template = self._template[voice]
        near = np.zeros_like(frac)
        for j, place in enumerate(PLACES):
            near += template[first + j] * np.exp(-0.5 * ((frac - place) / sd) ** 2)
        # the next beat's first place, for a hit just before it
        near += template[(first + len(PLACES)) % _BINS] * np.exp(-0.5 * ((frac - 1.0) / sd) ** 2)
        floor = self.cfg.off_place / _BINS
        return floor + near * np.exp(self._log_p - self._log_p0)

    def _weights(self) -> np.ndarray:
        w = np.exp(self._log_w - self._log_w.max())
        return w / w.sum()

    def _resample(self, w: np.ndarray) -> None:
        """Systematic resampling: the guesses that fit are copied, the others dropped."""
        n = self.cfg.particles
        picks = np.minimum(np.searchsorted(np.cumsum(w), (self._rng.random() + np.arange(n)) / n), n - 1)
        self._keep(picks)
        self._log_w = np.zeros(n)

    def _keep(self, picks: np.ndarray) -> None:
        """The guesses the resampling picked, copied (a trial's own state per guess too)."""
        self._beat, self._log_p = self._beat[picks], self._log_p[picks]

    def _learn(self, voice: int, weight: float, beat: float) -> None:
        """The first bars teach the drummer's bar; after that it follows the groove slowly."""
        whole = math.floor(beat)
        j = int(np.argmin(np.abs(_PLACES_TO_NEXT - (beat - whole))))
        place = ((whole % BEATS_PER_BAR) * len(PLACES) + j) % _BINS
        if beat < self.cfg.learn_bars * BEATS_PER_BAR:
            self._counts[voice, place] += weight
            return
        if not self._learnt:
            self._learnt = True
            total = self._counts.sum(1, keepdims=True)
            # what was heard, with the prior's places kept open at half its weight
            learnt = self._counts + 0.5 * self._prior * np.maximum(total, 1.0)
            self._template = np.where(total > 0, learnt / learnt.sum(1, keepdims=True), self._prior)
            return
        rate = self.cfg.learn_rate * weight / 8
        self._template[voice] *= 1.0 - rate
        self._template[voice, place] += rate


__all__ = ["GridFilter", "GridFilterConfig", "PLACES"]
