"""Synthetic corpus: reproducible, varied, and with a truly separate held-out split."""

from collections import Counter

import pytest

from yiwang.events.triage import corpus
from yiwang.events.triage.places import load_gazetteer
from yiwang.events.triage.taxonomy import load_taxonomy


@pytest.fixture(scope="module")
def train():
    return corpus.generate("train", 60)


@pytest.fixture(scope="module")
def heldout():
    return corpus.generate("heldout", 30)


def test_every_category_and_other_is_generated(train):
    counts = Counter(r.category_code for r in train)
    expected = {c.code for c in load_taxonomy()} | {corpus.OUT_OF_SCOPE}
    assert set(counts) == expected
    assert set(counts.values()) == {60}


def test_same_seed_same_corpus_other_seed_other_corpus(train):
    assert corpus.generate("train", 60) == train
    assert corpus.generate("train", 60, seed=1) != train


def test_heldout_shares_no_phrase_frame_or_place_with_training(train, heldout):
    full_train = corpus.generate("train", 300)  # large enough to use every training phrase
    assert not {r.phrase_id for r in full_train} & {r.phrase_id for r in heldout}
    assert not {r.frame_id for r in full_train} & {r.frame_id for r in heldout}
    assert not {r.village_code for r in full_train} & {r.village_code for r in heldout} - {None}
    assert not {r.road for r in full_train} & {r.road for r in heldout} - {None}
    assert not {r.text for r in full_train} & {r.text for r in heldout}


def test_bank_phrases_are_unique_within_each_category():
    for name, entry in corpus.load_phrasebank()["categories"].items():
        for kind in ("colloquial", "formal"):
            assert len(set(entry[kind])) == len(entry[kind]), (name, kind)
        assert len(entry["colloquial"]) >= 9 and len(entry["formal"]) >= 6, name


def test_texts_are_varied_and_noisy(train):
    texts = [r.text for r in train]
    assert len(set(texts)) > 0.97 * len(texts)
    assert Counter(r.register for r in train).keys() == {"hotline", "inspector", "app"}
    typo_words = {w for spellings in corpus.load_phrasebank()["typos"].values() for w in spellings}
    assert sum(any(w in t for w in typo_words) for t in texts) > 0.03 * len(texts)
    assert sum("," in t for t in texts) > 0.05 * len(texts)  # half-width punctuation too
    lengths = sorted(len(t) for t in texts)
    assert lengths[len(lengths) // 10] < 25 < lengths[-len(lengths) // 10]


def test_places_are_real_divisions_and_mentioned_in_the_text(train):
    gaz = load_gazetteer()
    villages = {v.code: v for v in gaz.villages}
    with_village = [r for r in train if r.village_code]
    assert len(with_village) > 0.25 * len(train)
    verbatim = 0
    for report in with_village:
        village = villages[report.village_code]
        assert village.town_code == report.town_code
        verbatim += village.short_name in report.text
    # the rest lost or doubled a character to the typo noise
    assert verbatim > 0.9 * len(with_village)


def test_split_helper_holds_out_every_nth_item():
    items = list(range(10))
    assert corpus.in_split(items, "heldout", 3) == [2, 5, 8]
    assert corpus.in_split(items, "train", 3) == [0, 1, 3, 4, 6, 7, 9]
