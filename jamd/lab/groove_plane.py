"""The groove plane: the pad's two axes where the decoder changes the played groove most.

A model's card first holds the principal plane: the two directions in which the training codes
vary most. Those are where the *codes* spread, not where the *patterns* do. In a 32-dimensional
code (drums-v6) they carry little of what the decoder hears, so at the radius up to which the
pad's patterns stay realistic a sweep changes too few cells to move evenly through the memory
(docs/models.md, slice 9).

The groove plane's axes are the two directions along which the decoder's hit probabilities
change most per standard deviation of the codes, averaged over training codes: with ``J`` the
Jacobian of the hit probabilities (T*V x d) and ``L`` the Cholesky factor of the codes'
covariance, the top two eigenvectors ``u`` of ``mean(Jᵀ J)`` in the whitened coordinates
``z = L u``. One unit of x or y moves the code by one standard deviation of the codes in that
direction (one Mahalanobis unit), as on the principal plane, so ``latent.radius`` means the same
distance from the seed: how unusual a code the pad reaches, not how far.
"""

from __future__ import annotations

import numpy as np

from jamd.lab.drum_eval import jacobian_fd
from jamd.model.drums import DrumModel
from jamd.model.plane import CodeDensity, LatentPlane, home_xy

#: training codes the Jacobian is averaged over (fixed seed): enough that the axes settle
N_CODES = 300
SEED = 0
#: added to the covariance's diagonal, relative to its mean variance, so a flat direction
#: (a dimension the KL switched off) still has a Cholesky factor
JITTER = 1e-6


def groove_axes(
    model: DrumModel, codes: np.ndarray, cov: np.ndarray, n: int = N_CODES, seed: int = SEED
) -> tuple[np.ndarray, np.ndarray]:
    """The groove plane of ``model`` over ``codes`` (N, d) whose covariance is ``cov`` (d, d):
    unit axes (2, d), sign fixed so each one's largest component is positive, and the
    codes' standard deviation along each (2,)."""
    rng = np.random.default_rng(seed)
    pts = codes[rng.choice(len(codes), min(n, len(codes)), replace=False)].astype(np.float32)
    cov = np.asarray(cov, np.float64)
    chol = np.linalg.cholesky(cov + JITTER * np.trace(cov) / len(cov) * np.eye(len(cov)))  # (d, d)
    jac = jacobian_fd(model, pts) @ chol  # (n, T*V, d): change per whitened unit
    gram = np.einsum("nkd,nke->de", jac, jac) / len(pts)  # (d, d)
    _, vecs = np.linalg.eigh(gram)  # ascending eigenvalues
    dirs = (chol @ vecs[:, ::-1][:, :2]).T  # (2, d): one whitened unit along each
    spread = np.linalg.norm(dirs, axis=1)
    axes = dirs / spread[:, None]
    axes *= np.sign(axes[np.arange(2), np.abs(axes).argmax(1)])[:, None]
    return axes, spread


def groove_plane_card(model: DrumModel, codes: np.ndarray) -> dict:
    """The card's ``plane`` section with the groove plane's axes over the training ``codes``
    (N, d): the same home point and prior, the density of the codes on the new plane (what the
    map draws), and ``axes_from: groove``."""
    plane = dict(model.card["plane"])
    cov = np.asarray(plane["covariance"], np.float64) if "covariance" in plane else np.cov(codes.T)
    axes, spread = groove_axes(model, codes, cov)
    center = np.asarray(plane["center"], np.float32)
    home = LatentPlane(center, axes[0] * spread[0], axes[1] * spread[1])
    return {
        **plane,
        "axes": axes.astype(np.float32).tolist(),
        "spread": spread.astype(np.float32).tolist(),
        "density": CodeDensity.of_codes(home_xy(home, codes)).to_card(),
        "axes_from": "groove",
    }
