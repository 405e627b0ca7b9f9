"""Figures for a bass checkpoint (issue 19), computed with the numpy runtime (no torch), as it
will play, beside the corpus's own figures and trivial baselines.

"Played" means decoded at a pad position drawn uniformly over [-1, 1]^2 (what a performer gets
anywhere on the pad, through ``BassModel.pad_point``), one per test window, over that window's
real drums and chords. The line figures (:mod:`jamd.lab.bass_lines`) of the played lines are
the top-level keys; ``baselines`` holds the same figures for

* ``corpus``: the test windows' own procedural lines (what the model learnt from);
* ``random_onsets``: the corpus's note count per window on random steps, random pitches;
* ``root_only``: the corpus's onsets, every note the chord root;
* ``corpus_copy``: another test window's line over this window's drums and chords (the right
  idiom and knobs, deaf to these drums).

``kick_lock_exact_random`` is the played lines' note count per window on random steps over the
same drums; ``played_drums`` repeats the kick lock over the drums the drum model plays (at
uniform pad positions of its own plane). The pad figures are :mod:`jamd.lab.bass_pad`'s;
``pad_in_code_range`` is measured against the training split's codes when it is given.
``latent_stability`` is the mean ``||mu_t - mu_{t+1}||`` between consecutive windows of one
piece, ``latent_stability_relative`` that over the mean distance between windows of different
pieces; ``onset_f1`` / ``pitch_accuracy`` are reconstructions from the posterior mean.
``targets`` says which of issue 19's targets the figures meet.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from jamd.data.bass_corpus import BassWindows
from jamd.lab.bass_lines import (
    LineFigures,
    kick_lock_exact,
    kick_lock_random,
    line_figures,
    random_onsets,
    role_gap,
)
from jamd.lab.bass_pad import lines_at, pad_figures, pad_in_code_range
from jamd.lab.timing import decode_timing
from jamd.model.bass import BassModel, bass_features, cond_features, to_lines
from jamd.model.drums import DecodeControls, DrumModel
from jamd.music.grid import BASS_PITCH_MAX, BASS_PITCH_MIN


def encode(model: BassModel, cond: np.ndarray, bass: np.ndarray, chunk: int = 256) -> np.ndarray:
    return np.concatenate(
        [model.encode_batch(cond[s : s + chunk], bass[s : s + chunk]) for s in range(0, len(cond), chunk)]
    )


def _cond(bw: BassWindows) -> np.ndarray:
    return cond_features(bw.drum_hit, bw.drum_velocity, bw.root, bw.quality)


def _bass(bw: BassWindows) -> np.ndarray:
    return bass_features(bw.onset, bw.pitch, bw.velocity, bw.length)


def latent_figures(mu: np.ndarray, bw: BassWindows, rng: np.random.Generator) -> dict:
    pairs = bw.next_pairs()
    if len(pairs) == 0:
        return {}
    jump = np.linalg.norm(mu[pairs[:, 0]] - mu[pairs[:, 1]], axis=1).mean()
    a, b = rng.integers(0, len(mu), (2, 20000))
    other = bw.piece[a] != bw.piece[b]
    # None, not NaN (which is not JSON), when every window comes from one piece
    spread = np.linalg.norm(mu[a[other]] - mu[b[other]], axis=1).mean() if other.any() else None
    return {
        "latent_stability": float(jump),
        "latent_stability_relative": None if spread is None else float(jump / spread),
        "latent_std": [float(s) for s in mu.std(0)],
    }


def baselines(bw: BassWindows, rng: np.random.Generator) -> dict[str, LineFigures]:
    def figures(onset: np.ndarray, pitch: np.ndarray) -> LineFigures:
        return line_figures(onset, pitch, bw.root, bw.quality, bw.drum_hit)

    rand_on = random_onsets(bw.onset, rng)
    rand_pitch = rng.integers(BASS_PITCH_MIN, BASS_PITCH_MAX + 1, bw.pitch.shape) * (rand_on > 0)
    copy = rng.permutation(len(bw))
    return {
        "corpus": figures(bw.onset, bw.pitch),
        "random_onsets": figures(rand_on, rand_pitch),
        "root_only": figures(bw.onset, np.zeros_like(bw.pitch)),
        "corpus_copy": figures(bw.onset[copy], bw.pitch[copy]),
    }


def played_drums_lock(
    model: BassModel, drums_path: Path, bw: BassWindows, rng: np.random.Generator, n: int = 500
) -> dict:
    """Kick lock of the bass over the drum model's own playing (random pad points of its plane,
    the daemon's default decode), with the test windows' chords."""
    drums = DrumModel.load(drums_path)
    plane = drums.plane()
    idx = rng.choice(len(bw), min(n, len(bw)), replace=False)
    pats = [drums.decode(plane.point(*rng.uniform(-1, 1, 2)), DecodeControls()) for _ in idx]
    hit = np.stack([p.hit for p in pats])
    cond = cond_features(hit, np.stack([p.velocity for p in pats]), bw.root[idx], bw.quality[idx])
    onset, _ = lines_at(model, rng.uniform(-1, 1, (len(idx), 2)), cond)
    return {
        "drum_model": drums_path.name,
        "kick_lock_exact": kick_lock_exact(onset, hit),
        "kick_lock_exact_random": kick_lock_random(onset, hit, rng),
    }


def meets(out: dict) -> dict[str, bool]:
    """Issue 19's targets (decode time is judged by ``jamd bench``, drums and bass together)."""
    corpus = out["baselines"]["corpus"]
    played = out.get("played_drums")
    return {
        "note_roles_within_0.05": role_gap(out["note_roles"], out["corpus_note_roles"]) <= 0.05,
        "root_share_le_0.60": out["root_share"] <= 0.60,
        "distinct_pitches_ge_2.8": out["distinct_pitches_per_bar"] >= 2.8,
        "octave_jumps_within_0.05": abs(out["octave_jump_rate"] - corpus["octave_jump_rate"]) <= 0.05,
        "kick_lock_test_drums": out["kick_lock_exact"] >= out["kick_lock_exact_random"] + 0.25,
        "kick_lock_played_drums": bool(
            played and played["kick_lock_exact"] >= played["kick_lock_exact_random"] + 0.25
        ),
        "pad_change_05_in_20_50": 0.20 <= out["pad_change_05"] <= 0.50,
        "corners_differ_ge_0.5": out["pad"]["pad_corners_min"] >= 0.5,
        "axes_monotonic_ge_0.8": min(out["pad"]["axis_monotonic"].values()) >= 0.8,
        "in_scale_nonroot_ge_0.95": out["in_scale_nonroot"] >= 0.95 and out["in_scale_nonroot_n"] >= 3000,
        "pad_within_codes_95": out["pad"]["pad_in_code_range"] == 1.0,
    }


def evaluate(
    path: str,
    bw: BassWindows,
    drums_path: Path | None = None,
    train: BassWindows | None = None,
    seed: int = 0,
    timing: bool = True,
) -> dict:
    model = BassModel.load(path)
    rng = np.random.default_rng(seed)
    cond = _cond(bw)
    mu = encode(model, cond, _bass(bw))
    onset, pitch = lines_at(model, rng.uniform(-1, 1, (len(bw), 2)), cond)
    fig = line_figures(onset, pitch, bw.root, bw.quality, bw.drum_hit).to_dict()
    base = {k: v.to_dict() for k, v in baselines(bw, rng).items()}
    pad = pad_figures(model, cond, rng).to_dict()
    # the pad must stay where the model was trained: the training codes when given
    codes = mu if train is None else encode(model, _cond(train), _bass(train))
    pad["pad_in_code_range"] = pad_in_code_range(model, codes)
    rec = to_lines(model.decode_batch(mu, cond))
    r_on = np.stack([ln.onset for ln in rec]) > 0.5
    r_pitch = np.stack([ln.pitch for ln in rec])
    t_on = bw.onset > 0
    both = r_on & t_on
    out = {
        "windows": len(bw),
        "note_roles": fig.pop("note_roles"),
        "corpus_note_roles": base["corpus"]["note_roles"],
        **fig,
        "kick_lock_exact_random": kick_lock_random(onset, bw.drum_hit, rng),
        "pad_change_05": pad.pop("pad_change_05"),
        "pad": pad,
        **({"played_drums": played_drums_lock(model, drums_path, bw, rng)} if drums_path else {}),
        "baselines": base,
        **latent_figures(mu, bw, rng),
        "onset_f1": float(2 * both.sum() / max(r_on.sum() + t_on.sum(), 1)),
        "pitch_accuracy": float((r_pitch[both] == bw.pitch[both]).mean()) if both.any() else 0.0,
    }
    if timing:
        out.update(decode_timing("bass", path))
    out["targets"] = meets(out)
    return out
