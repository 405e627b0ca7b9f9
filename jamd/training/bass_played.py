"""Bass training windows over what a drum model *plays* (``jamd train bass --played-drums``).

The procedural corpus writes its lines over GMD's real drums, but live the bass hears the drum
model's patterns, which hold other kicks (drums-v3's pad plays fewer than the real windows). A bass
that learnt only real drums follows those kicks less well (docs/bass.md). So each training window
is played once more by the drum model, at a random point of its pad around either the window's own
code (the daemon after a seed) or the pad's home (before one), and the same rules write that
window's line over the played drums: same piece, key, section knobs and chords, the kicks heard
(:func:`jamd.data.bass_corpus.procedural_splits`, ``replay``).
"""

from __future__ import annotations

import numpy as np

from jamd.data.corpus import Windows
from jamd.model.drums import DrumModel

HOME_SHARE = 0.5  # the share of windows played around the pad's home rather than their own code


def played_windows(w: Windows, model: DrumModel, rng: np.random.Generator) -> Windows:
    """Each window as ``model`` plays it (its default decode, no pad memory) at a uniform point of
    its pad (``model.pad.radius``) around the window's own code or the home."""
    mu, _ = model.encode_many(w.hit, w.velocity, w.offset)  # (n, d)
    plane = model.plane()
    home = rng.random(len(w)) < HOME_SHARE
    xy = rng.uniform(-1.0, 1.0, (len(w), 2))
    pats = [
        model.decode(plane.point(x, y, None if h else c)) for c, h, (x, y) in zip(mu, home, xy, strict=True)
    ]
    return Windows(
        np.stack([p.hit for p in pats]).astype(np.uint8),
        np.stack([p.velocity for p in pats]).astype(np.float32),
        np.stack([p.offset for p in pats]).astype(np.float32),
        w.file.copy(),
        w.bar.copy(),
    )
