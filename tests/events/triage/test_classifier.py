"""Text classifier: held-out accuracy, speed, top-k confidence, human review."""

import time

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from yiwang.events.triage import corpus
from yiwang.events.triage.classifier import (
    PLACE_MASK,
    default_classifier,
    mask_places,
    train_default,
)


@pytest.fixture(scope="module")
def model():
    started = time.perf_counter()
    clf = default_classifier()
    elapsed = time.perf_counter() - started
    assert elapsed < 30, f"training at first start took {elapsed:.1f} s"
    return clf


@pytest.fixture(scope="module")
def heldout():
    reports = corpus.generate("heldout", 100)
    return [r.text for r in reports], np.array([r.category_code for r in reports])


def test_heldout_accuracy_meets_the_bar(model, heldout):
    texts, truth = heldout
    predicted = np.array(model.predict(texts))
    city = truth != corpus.OUT_OF_SCOPE
    assert np.mean(predicted == truth) >= 0.90
    assert np.mean(predicted[city] == truth[city]) >= 0.90
    assert np.mean(predicted[~city] == corpus.OUT_OF_SCOPE) >= 0.5  # a safety net, not more


def test_batch_classification_is_fast_on_one_core(model, heldout):
    texts = heldout[0] * 2
    with threadpool_limits(1):
        best = min(_timed(model.predict, texts) for _ in range(3))
    assert len(texts) / best >= 5000, f"{len(texts) / best:.0f} texts/s"


def _timed(fn, arg):
    started = time.perf_counter()
    fn(arg)
    return time.perf_counter() - started


def test_top_k_is_sorted_and_usually_contains_the_truth(model, heldout):
    texts, truth = heldout
    results = model.top_k(texts, k=3)
    for result in results[:200]:
        confidences = [c.confidence for c in result.candidates]
        assert len(confidences) == 3 and confidences == sorted(confidences, reverse=True)
        assert confidences[-1] >= 0 and confidences[0] <= 1 and sum(confidences) <= 1 + 1e-9
    in_top3 = [t in {c.code for c in r.candidates} for r, t in zip(results, truth, strict=True)]
    assert np.mean(in_top3) >= 0.97


def test_low_confidence_goes_to_a_human_and_the_rest_is_more_accurate(model, heldout):
    texts, truth = heldout
    results = model.top_k(texts)
    human = np.array([r.needs_human for r in results])
    correct = np.array([r.best.code == t for r, t in zip(results, truth, strict=True)])
    assert 0.02 < human.mean() < 0.35
    assert correct[~human].mean() >= 0.95 > correct.mean()
    assert all(r.needs_human for r in results if r.best.confidence < model.min_confidence)


def test_everyday_reports_and_out_of_scope_calls(model):
    gas = model.triage("小区门口闻到很浓的煤气味，好像管道漏气了")
    assert gas.best.name == "燃气泄漏" and not gas.needs_human
    cover = model.triage("前进西路123号井盖被偷了，很危险")
    assert cover.best.name == "井盖破损丢失"
    assert cover.location.town_name == "玉山镇" and cover.location.road == "前进西路"
    pension = model.triage("请问公积金贷款怎么申请，需要什么材料")
    assert pension.best.code == corpus.OUT_OF_SCOPE and pension.needs_human


def test_place_names_are_masked_before_vectorising():
    assert mask_places("绿地大道花园社区门口") == PLACE_MASK * 2 + "门口"


def test_training_is_deterministic():
    a = train_default(per_category=30)
    b = train_default(per_category=30)
    coef_a, coef_b = a.pipeline["model"].coef_, b.pipeline["model"].coef_
    assert np.array_equal(coef_a, coef_b)
    other_seed = train_default(per_category=30, seed=7).pipeline["model"].coef_
    assert not np.array_equal(coef_a, other_seed)
