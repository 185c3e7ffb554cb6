"""Chinese full-text search that works the same on SQLite and PostgreSQL.

Neither FTS5's default tokenizers nor PostgreSQL's ``simple`` configuration split Chinese
into words, and a trigram index cannot find two-character words such as 人口 or 企业. So the
service keeps its own inverted index: every run of CJK characters becomes its overlapping
bigrams (人口基础 → 人口, 口基, 基础) plus single characters, ASCII text becomes lowercase
words. A query is cut the same way (bigrams only, when a run has two or more characters) and
an entry matches when it holds every query term; the score adds the weights of the fields the
terms were found in, so a word in the title outranks the same word in the abstract.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping

from sqlalchemy import delete, insert
from sqlalchemy.orm import Session

from yiwang.catalog.models import CatalogSearchTerm

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_WORD = re.compile(r"[0-9a-z]+")
MAX_QUERY_TERMS = 32
MAX_TERM_LENGTH = 64
TF_CAP = 3  # repeated words count up to three times per field

# Field weights: where a term is found says how relevant the entry is.
WEIGHTS = {
    "title": 12,
    "name": 10,
    "code": 10,
    "items": 4,
    "classification": 3,
    "provider": 3,
    "abstract": 2,
    "details": 1,
}


def _normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def _terms(text: str, *, query: bool) -> list[str]:
    text = _normalise(text)
    out: list[str] = []
    for run in _CJK.findall(text):
        if len(run) == 1:
            out.append(run)
            continue
        out.extend(run[i : i + 2] for i in range(len(run) - 1))
        if not query:
            out.extend(run)
    out.extend(w[:MAX_TERM_LENGTH] for w in _WORD.findall(_CJK.sub(" ", text)))
    return out


def query_terms(q: str) -> list[str]:
    """The distinct terms of a query, in order (at most ``MAX_QUERY_TERMS``)."""
    return list(dict.fromkeys(_terms(q, query=True)))[:MAX_QUERY_TERMS]


def document_terms(fields: Mapping[str, Iterable[str]]) -> dict[str, int]:
    """Weighted terms of a document given as {field: texts}."""
    weights: Counter[str] = Counter()
    for field, texts in fields.items():
        counts = Counter(t for text in texts if text for t in _terms(text, query=False))
        for term, n in counts.items():
            weights[term] += WEIGHTS[field] * min(n, TF_CAP)
    return dict(weights)


def entry_fields(spec: dict, *, code: str | None, provider_name: str, class_names: list[str]) -> dict[str, list[str]]:
    """What of an entry is searchable, by field."""
    items = spec.get("items", [])
    return {
        "title": [spec.get("title", "")],
        "name": [spec.get("name", "")],
        "code": [code or ""],
        "items": [i.get("name", "") for i in items],
        "classification": class_names + [spec.get("classification", "")],
        "provider": [provider_name],
        "abstract": [spec.get("abstract", "")],
        "details": [i.get("description", "") for i in items]
        + [
            spec.get("share", {}).get("conditions", ""),
            spec.get("open", {}).get("conditions", ""),
            spec.get("format", {}).get("detail", ""),
        ],
    }


def reindex(session: Session, *, entry_id: int, layer: str, terms: dict[str, int] | None) -> None:
    """Replace one layer of an entry's index (``None`` removes it)."""
    session.execute(
        delete(CatalogSearchTerm).where(CatalogSearchTerm.entry_id == entry_id, CatalogSearchTerm.layer == layer)
    )
    if terms:
        session.execute(
            insert(CatalogSearchTerm),
            [{"entry_id": entry_id, "layer": layer, "term": t, "weight": w} for t, w in terms.items()],
        )
