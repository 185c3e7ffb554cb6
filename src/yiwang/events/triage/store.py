"""Versioned triage models on disk, without pickle.

A version is a folder ``<root>/<version>/`` holding ``model.json`` (vectoriser settings,
vocabulary, class codes, training fingerprint) and ``model.npz`` (idf weights and the
linear model's coefficients, saved with ``allow_pickle=False``), plus ``metrics.json``.
Loading only reads arrays and JSON, so a model folder cannot run code, and it does not
depend on scikit-learn's private pickle layout across upgrades.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import SGDClassifier
from sklearn.pipeline import Pipeline

from yiwang.events.triage.classifier import TextClassifier, mask_places
from yiwang.events.triage.taxonomy import load_taxonomy

FORMAT = 1
_VEC_PARAMS = ("analyzer", "ngram_range", "sublinear_tf", "min_df", "norm", "use_idf", "smooth_idf", "lowercase")


def save(clf: TextClassifier, folder: Path, *, version: str, fingerprint: str, metrics: dict) -> Path:
    """Write the model atomically: a temporary folder renamed into place."""
    vec: TfidfVectorizer = clf.pipeline["tfidf"]
    model: SGDClassifier = clf.pipeline["model"]
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder.parent))
    params = {k: getattr(vec, k) for k in _VEC_PARAMS}
    params["ngram_range"] = list(params["ngram_range"])
    meta = {
        "format": FORMAT,
        "version": version,
        "fingerprint": fingerprint,
        "vectorizer": params,
        "vocabulary": {t: int(i) for t, i in vec.vocabulary_.items()},
        "classes": [str(c) for c in model.classes_],
        "min_confidence": clf.min_confidence,
    }
    (tmp / "model.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    np.savez(tmp / "model.npz", idf=vec.idf_, coef=model.coef_, intercept=model.intercept_)
    (tmp / "metrics.json").write_text(json.dumps(metrics, ensure_ascii=False, indent=1), encoding="utf-8")
    if folder.exists():
        shutil.rmtree(folder)
    os.replace(tmp, folder)
    return folder


def load(folder: Path) -> TextClassifier:
    meta = json.loads((folder / "model.json").read_text(encoding="utf-8"))
    if meta.get("format") != FORMAT:
        raise ValueError(f"unsupported model format {meta.get('format')!r} in {folder}")
    arrays = np.load(folder / "model.npz", allow_pickle=False)
    params = dict(meta["vectorizer"])
    params["ngram_range"] = tuple(params["ngram_range"])
    vec = TfidfVectorizer(preprocessor=mask_places, **params)
    vec.vocabulary_ = meta["vocabulary"]
    vec.idf_ = arrays["idf"]
    model = SGDClassifier(loss="log_loss")
    model.classes_ = np.array(meta["classes"])
    model.coef_ = arrays["coef"]
    model.intercept_ = arrays["intercept"]
    model.n_features_in_ = model.coef_.shape[1]
    model.t_ = 1.0
    return TextClassifier(
        Pipeline([("tfidf", vec), ("model", model)]),
        load_taxonomy(),
        min_confidence=meta.get("min_confidence", 0.5),
        version=meta["version"],
        fingerprint=meta["fingerprint"],
    )


def read_metrics(folder: Path) -> dict:
    path = folder / "metrics.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
