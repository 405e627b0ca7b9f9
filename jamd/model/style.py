"""A small style classifier on drum latent codes (after SampleVAE's classifier, for grooves).

Softmax regression on quadratic features of the posterior mean ``z`` (``z``, ``z_i z_j``): the
latent is only a few dimensions, and styles are not linearly separable in it, but a full MLP would
overfit the few non-rock styles. Trained on the GMD train split's style labels, regularisation
chosen on validation, confusion matrix on test, all stored in the classifier's model card.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from jamd.model.checkpoint import load_checkpoint, save_checkpoint

KIND = "style"
#: Styles with fewer training windows than this are pooled as "other": a class seen a few
#: dozen times cannot be learned, only memorised.
MIN_WINDOWS = 300
L2_CHOICES = (1e-4, 1e-3, 1e-2, 1e-1)


def features(z: np.ndarray) -> np.ndarray:
    """(n, d) -> (n, 1 + d + d(d+1)/2): bias, linear and quadratic terms."""
    z = np.atleast_2d(np.asarray(z, np.float64))
    i, j = np.triu_indices(z.shape[1])
    return np.concatenate([np.ones((len(z), 1)), z, z[:, i] * z[:, j]], axis=1)


def _softmax(a: np.ndarray) -> np.ndarray:
    a = a - a.max(axis=1, keepdims=True)
    e = np.exp(a)
    return e / e.sum(axis=1, keepdims=True)


@dataclass
class StyleClassifier:
    classes: list[str]
    weights: np.ndarray  # (features, classes)
    mean: np.ndarray  # feature standardisation, so one L2 weight fits all features
    scale: np.ndarray

    def proba(self, z: np.ndarray) -> np.ndarray:
        """(n, d) or (d,) codes -> (n, classes) probabilities."""
        return _softmax(((features(z) - self.mean) / self.scale) @ self.weights)

    def predict(self, z: np.ndarray) -> list[str]:
        return [self.classes[k] for k in self.proba(z).argmax(axis=1)]

    def save(self, path: Path, card: dict) -> Path:
        tensors = {
            "weights": self.weights.astype(np.float32),
            "mean": self.mean.astype(np.float32),
            "scale": self.scale.astype(np.float32),
        }
        return save_checkpoint(path, tensors, {"kind": KIND, "classes": self.classes, **card})

    @classmethod
    def load(cls, path: Path) -> StyleClassifier:
        ck = load_checkpoint(path, kind=KIND)
        t = ck.tensors
        return cls(
            list(ck.card["classes"]),
            t["weights"].astype(np.float64),
            t["mean"].astype(np.float64),
            t["scale"].astype(np.float64),
        )


def label_classes(labels: Sequence[str]) -> list[str]:
    """The styles common enough to learn, most frequent first, then "other"."""
    names, counts = np.unique(np.asarray(labels), return_counts=True)
    common = [n for n, c in sorted(zip(names, counts), key=lambda t: -t[1]) if c >= MIN_WINDOWS]
    return common + (["other"] if len(common) < len(names) else [])


def encode_labels(labels: Sequence[str], classes: list[str]) -> np.ndarray:
    index = {c: k for k, c in enumerate(classes)}
    return np.array([index.get(s, index.get("other", -1)) for s in labels])


def fit(z: np.ndarray, y: np.ndarray, classes: list[str], l2: float, iters: int = 400) -> StyleClassifier:
    """Full-batch gradient descent with class weights (styles are very unbalanced: rock alone is
    a third of GMD), from zero: deterministic."""
    x = features(z)
    mean, scale = x.mean(0), x.std(0)
    mean[0], scale[0] = 0.0, 1.0  # keep the bias column as it is
    scale[scale == 0] = 1.0
    x = (x - mean) / scale
    onehot = np.eye(len(classes))[y]
    counts = onehot.sum(0)
    sample_w = (len(y) / (len(classes) * np.maximum(counts, 1)))[y][:, None]
    w = np.zeros((x.shape[1], len(classes)))
    lr = 0.5
    for _ in range(iters):
        grad = x.T @ (sample_w * (_softmax(x @ w) - onehot)) / len(y) + l2 * w
        w -= lr * grad
    return StyleClassifier(list(classes), w, mean, scale)


def confusion(clf: StyleClassifier, z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(classes, classes) counts: row = true style, column = predicted."""
    pred = clf.proba(z).argmax(axis=1)
    m = np.zeros((len(clf.classes),) * 2, np.int64)
    np.add.at(m, (y, pred), 1)
    return m


def balanced_accuracy(m: np.ndarray) -> float:
    """Mean per-class recall: plain accuracy would reward calling everything rock."""
    recall = np.diag(m) / np.maximum(m.sum(1), 1)
    return float(recall[m.sum(1) > 0].mean())


def corpus_codes(model, corpus, split: str) -> tuple[np.ndarray, list[str]]:
    """Posterior means of a split's windows and their files' style labels."""
    w = corpus.splits[split]
    mu, _ = model.encode_batch(w.hit.astype(np.float32), w.velocity, w.offset)
    return mu, [corpus.files[i].style for i in w.file]


def train_on_corpus(model, corpus) -> tuple[StyleClassifier, dict]:
    """Fit on train, pick L2 on validation (balanced accuracy), report on test."""
    z_tr, s_tr = corpus_codes(model, corpus, "train")
    classes = label_classes(s_tr)
    y_tr = encode_labels(s_tr, classes)
    z_va, s_va = corpus_codes(model, corpus, "validation")
    y_va = encode_labels(s_va, classes)
    scores = {l2: balanced_accuracy(confusion(fit(z_tr, y_tr, classes, l2), z_va, y_va)) for l2 in L2_CHOICES}
    l2 = max(scores, key=lambda k: scores[k])
    clf = fit(z_tr, y_tr, classes, l2)
    metrics = {"l2": l2, "validation_balanced_accuracy": {str(k): round(v, 4) for k, v in scores.items()}}
    if "test" in corpus.splits:
        z_te, s_te = corpus_codes(model, corpus, "test")
        m = confusion(clf, z_te, encode_labels(s_te, classes))
        metrics.update(
            test_balanced_accuracy=round(balanced_accuracy(m), 4),
            test_accuracy=round(float(np.trace(m) / m.sum()), 4),
            test_confusion={"rows_true_cols_predicted": classes, "counts": m.tolist()},
            chance_balanced_accuracy=round(1 / len(classes), 4),
        )
    return clf, metrics
