"""The triage model in service: versions on disk, the active one, retraining with corrections.

Training data = the synthetic corpus's training split + the dispatchers' corrections (each
repeated so that a few real corrections weigh against thousands of synthetic texts). A new
version is written under ``YIWANG_HOME/models/events-triage/<version>/`` with its metrics
(held-out accuracy on the corpus, accuracy on the hand-written evaluation set) and the SM3
fingerprint of its training data, recorded in ``events_model_versions`` and activated.
Every process checks the active version at most every 30 s, so a retrain in one process
reaches all web workers; every case records the version that triaged it.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import threading
import time
from pathlib import Path
from typing import TypedDict

import numpy as np
import structlog
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from yiwang.core import audit, db, heap
from yiwang.core.audit import Origin
from yiwang.core.crypto import sm3_hex
from yiwang.events.models import Correction, ModelVersion
from yiwang.events.triage import TextClassifier, corpus, load_taxonomy, store
from yiwang.events.triage.classifier import TRAIN_PER_CATEGORY
from yiwang.events.triage.taxonomy import DATA_DIR

log = structlog.get_logger("yiwang.events.triage_versions")
CORRECTION_WEIGHT = 5
HANDWRITTEN_CSV = DATA_DIR / "event_handwritten_eval.csv"
RECHECK_SECONDS = 30


def models_dir(home: Path) -> Path:
    return Path(home) / "models" / "events-triage"


def handwritten_set() -> tuple[list[str], list[str]]:
    """The hand-written evaluation texts (never used for training) and their true codes."""
    tax = load_taxonomy()
    with HANDWRITTEN_CSV.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    codes = [corpus.OUT_OF_SCOPE if r["category"] == "other" else tax.by_name(r["category"]).code for r in rows]
    return [r["text"] for r in rows], codes


def evaluate(clf: TextClassifier, *, heldout_per_category: int = 100) -> dict:
    held = corpus.generate("heldout", heldout_per_category)
    texts, truth = [r.text for r in held], np.array([r.category_code for r in held])
    started = time.perf_counter()
    predicted = np.array(clf.predict(texts))
    elapsed = time.perf_counter() - started
    hw_texts, hw_truth = handwritten_set()
    hw_pred = np.array(clf.predict(hw_texts))
    return {
        "heldout_accuracy": round(float(np.mean(predicted == truth)), 4),
        "heldout_texts": len(texts),
        "handwritten_accuracy": round(float(np.mean(hw_pred == np.array(hw_truth))), 4),
        "handwritten_texts": len(hw_texts),
        "texts_per_second": round(len(texts) / elapsed),
    }


def train_version(
    session: Session, home: Path, *, actor, origin: Origin | None = None, per_category: int = TRAIN_PER_CATEGORY
) -> ModelVersion:
    """Train on corpus + corrections, save, register and activate a new version."""
    reports = corpus.generate("train", per_category)
    texts, codes = [r.text for r in reports], [r.category_code for r in reports]
    fresh = not session.in_transaction()
    with db.reading():  # on SQLite: a deferred read, no writer lock
        corrections = session.execute(select(Correction.text, Correction.corrected_code).order_by(Correction.id)).all()
    if fresh:
        session.rollback()  # training takes seconds: hold no transaction (and no writer lock) through it
    for text, code in corrections:
        texts += [text] * CORRECTION_WEIGHT
        codes += [code] * CORRECTION_WEIGHT
    fingerprint = sm3_hex("\x1e".join(f"{t}\x1f{c}" for t, c in zip(texts, codes, strict=True)))
    started = time.perf_counter()
    clf = TextClassifier.train(texts, codes)
    seconds = round(time.perf_counter() - started, 2)
    version = f"{dt.datetime.now(dt.UTC):%Y%m%d%H%M%S}-{fingerprint[:8]}"
    metrics = {
        "version": version,
        "train_texts": len(texts),
        "corrections": len(corrections),
        "train_seconds": seconds,
        "fingerprint": fingerprint,
        **evaluate(clf),
    }
    store.save(clf, models_dir(home) / version, version=version, fingerprint=fingerprint, metrics=metrics)
    session.execute(update(ModelVersion).values(active=False))
    row = ModelVersion(
        version=version,
        fingerprint=fingerprint,
        corrections=len(corrections),
        metrics=json.dumps(metrics, ensure_ascii=False),
        active=True,
    )
    session.add(row)
    audit.record(
        session,
        actor=actor,
        action="events.model.train",
        target_type="events_model",
        target_id=version,
        origin=origin,
        detail={k: v for k, v in metrics.items() if k != "fingerprint"},
    )
    db.commit(session)
    log.info("triage model trained", **{k: v for k, v in metrics.items() if k != "fingerprint"})
    return row


def versions(session: Session) -> list[ModelVersion]:
    return list(session.execute(select(ModelVersion).order_by(ModelVersion.created_at.desc())).scalars())


class _Cache(TypedDict):
    version: str | None
    clf: TextClassifier | None  # set together with ``version``
    checked: float


_lock = threading.Lock()
_cache: _Cache = {"version": None, "clf": None, "checked": 0.0}


def active_classifier(session: Session, home: Path) -> TextClassifier:
    """The active version (loaded from disk, re-checked every 30 s); trains one if none exists."""
    now = time.monotonic()
    if _cache["clf"] is not None and now - _cache["checked"] < RECHECK_SECONDS:
        return _cache["clf"]
    with _lock:
        row = session.execute(select(ModelVersion).where(ModelVersion.active.is_(True))).scalars().first()
        if row is None or not (models_dir(home) / row.version / "model.json").is_file():
            if row is not None:
                log.warning("active triage model missing on disk; training a new version", version=row.version)
            from yiwang.core.security import SYSTEM_ACTOR

            row = train_version(session, home, actor=SYSTEM_ACTOR, origin=Origin(ip="model"))
        if row.version != _cache["version"]:
            _cache["clf"] = store.load(models_dir(home) / row.version)
            _cache["version"] = row.version
            heap.freeze()  # a serving process keeps the model for long: out of the collector's full passes
        _cache["checked"] = now
        clf = _cache["clf"]
        assert clf is not None  # loaded above, at the latest
        return clf


def forget_cache() -> None:
    _cache.update({"version": None, "clf": None, "checked": 0.0})
