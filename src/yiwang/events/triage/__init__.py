"""Case triage for the event center: taxonomy, text classifier, location hints.

Pure building blocks (no database, no web): the lead wires them into ``events``.
"""

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
    "default_classifier",
    "extract_location",
    "load_taxonomy",
    "train_default",
]
