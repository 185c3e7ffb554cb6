"""Case triage for the event center: taxonomy, text classifier, location hints, model files.

Pure building blocks (no database, no web); ``yiwang.events.triage_versions`` and
``yiwang.events.pipeline`` put them into service.
"""

from yiwang.events.triage import corpus, store
from yiwang.events.triage.classifier import (
    Candidate,
    TextClassifier,
    Triage,
    classify,
    default_classifier,
    train_default,
)
from yiwang.events.triage.places import LocationHint, extract_location
from yiwang.events.triage.taxonomy import Category, Taxonomy, load_taxonomy

__all__ = [
    "Candidate",
    "Category",
    "LocationHint",
    "Taxonomy",
    "TextClassifier",
    "Triage",
    "classify",
    "corpus",
    "default_classifier",
    "extract_location",
    "load_taxonomy",
    "store",
    "train_default",
]
