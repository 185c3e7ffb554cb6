"""Classify free Chinese report text into a case category, with confidence.

Model: TF-IDF over character 1–2-grams (Chinese needs no word segmentation for this)
and a linear classifier trained by SGD with logistic loss (scikit-learn). Known place
names are masked before vectorising, since where something happened says nothing about
what happened (and names like 绿地大道 or 花园社区 would mislead). Besides the city
management categories there is one class ``"other"`` (非城市管理事项: social security,
deposits, billing...), which always goes to a human. The hyper-parameters were
chosen by 3-fold cross-validation on the training split grouped by bank phrase, so that no
validation fold saw its phrases in training.

The model is not shipped as a file: :func:`default_classifier` trains it from the
synthetic corpus at first use, deterministically, in a few seconds. That avoids committing
a pickle bound to one scikit-learn version (and unpickling code from disk). Reports whose
best confidence is under ``min_confidence`` are marked for a human dispatcher.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import SGDClassifier
from sklearn.pipeline import Pipeline

from yiwang.events.triage import corpus
from yiwang.events.triage.places import LocationHint, extract_location, place_pattern
from yiwang.events.triage.taxonomy import Taxonomy, load_taxonomy

DEFAULT_MIN_CONFIDENCE = 0.5
TRAIN_PER_CATEGORY = 300
PLACE_MASK = "＠"


@dataclass(frozen=True)
class Candidate:
    code: str
    name: str
    confidence: float


@dataclass(frozen=True)
class Triage:
    """Best guesses for one report, whether a human must decide, and where it is."""

    candidates: tuple[Candidate, ...]
    needs_human: bool
    location: LocationHint

    @property
    def best(self) -> Candidate:
        return self.candidates[0]


def mask_places(text: str) -> str:
    """Replace known place names by one placeholder character."""
    return place_pattern().sub(PLACE_MASK, text)


def build_pipeline(seed: int = 0) -> Pipeline:
    return Pipeline(
        [
            (
                "tfidf",
                TfidfVectorizer(
                    analyzer="char", ngram_range=(1, 2), sublinear_tf=True, min_df=2, preprocessor=mask_places
                ),
            ),
            ("model", SGDClassifier(loss="log_loss", alpha=3e-6, max_iter=10, tol=None, random_state=seed)),
        ]
    )


class TextClassifier:
    """A trained pipeline plus the taxonomy that names its classes."""

    def __init__(
        self,
        pipeline: Pipeline,
        taxonomy: Taxonomy,
        *,
        min_confidence: float = DEFAULT_MIN_CONFIDENCE,
        version: str | None = None,
        fingerprint: str | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.taxonomy = taxonomy
        self.min_confidence = min_confidence
        self.version = version  # a saved model's (``store``); None for one trained in this process
        self.fingerprint = fingerprint
        self.codes = np.asarray(pipeline.classes_)
        self._names = np.array([self._name(c) for c in self.codes])

    def _name(self, code: str) -> str:
        if code == corpus.OUT_OF_SCOPE:
            return corpus.OUT_OF_SCOPE_NAME
        return self.taxonomy.by_code(code).name

    @classmethod
    def train(cls, texts: Sequence[str], codes: Sequence[str], *, seed: int = 0, **kwargs) -> TextClassifier:
        pipeline = build_pipeline(seed).fit(list(texts), list(codes))
        return cls(pipeline, load_taxonomy(), **kwargs)

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """(n_texts, n_classes) confidences; columns follow ``self.codes``."""
        return self.pipeline.predict_proba(list(texts))

    def predict(self, texts: Sequence[str]) -> list[str]:
        """Best category code per text (batch; the fast path)."""
        return self.codes[self.probabilities(texts).argmax(axis=1)].tolist()

    def accuracy(self, texts: Sequence[str], codes: Sequence[str]) -> float:
        return float(np.mean(np.array(self.predict(texts)) == np.asarray(codes)))

    def top_k(self, texts: Sequence[str], k: int = 3) -> list[Triage]:
        """Top-k candidates with confidence, the human-review flag and a location hint."""
        probs = self.probabilities(texts)
        k = min(k, probs.shape[1])
        order = np.argsort(-probs, axis=1)[:, :k]
        results = []
        for text, row, idx in zip(texts, probs, order, strict=True):
            candidates = tuple(Candidate(str(self.codes[i]), str(self._names[i]), float(row[i])) for i in idx)
            results.append(
                Triage(
                    candidates=candidates,
                    needs_human=(
                        candidates[0].confidence < self.min_confidence or candidates[0].code == corpus.OUT_OF_SCOPE
                    ),
                    location=extract_location(text),
                )
            )
        return results

    def triage(self, text: str, k: int = 3) -> Triage:
        return self.top_k([text], k)[0]


def train_default(*, seed: int = corpus.DEFAULT_SEED, per_category: int = TRAIN_PER_CATEGORY) -> TextClassifier:
    """Train on the synthetic training split (deterministic for a given seed)."""
    reports = corpus.generate("train", per_category, seed=seed)
    return TextClassifier.train([r.text for r in reports], [r.category_code for r in reports])


@cache
def default_classifier() -> TextClassifier:
    """The process-wide classifier, trained on first use (a few seconds)."""
    return train_default()


def classify(text: str, k: int = 3) -> Triage:
    """Triage one report with the default classifier."""
    return default_classifier().triage(text, k)
