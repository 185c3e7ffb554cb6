"""Synthetic labelled reports for training and testing the triage classifier.

No public labelled corpus of Kunshan case reports exists, so one is generated from the
phrase bank (``phrasebank.toml``): per category, colloquial phrasings (12345 hotline, app)
and formal ones (inspectors, grid workers), set into register frames with real division
names and street names, small talk, mentions of other categories' things, common
misspellings, dropped characters and varied punctuation.

Held-out separation: every third phrase of each category, every third frame of each
register and every fourth village/community and street are reserved for the held-out
split. A held-out report uses only reserved phrases, reserved frames and reserved
villages/streets, so it never shares a phrase, a frame or a phrase-frame combination with
training. Shared between splits: the {x} vocabulary (the things people talk about), town
aliases and landmarks, the detail/ask/chatter/noise snippets and the misspelling process.
"""

from __future__ import annotations

import random
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

from yiwang.events.triage.places import Road, Village, load_gazetteer
from yiwang.events.triage.taxonomy import load_taxonomy

Split = Literal["train", "heldout"]
Register = Literal["hotline", "inspector", "app"]
PHRASEBANK = Path(__file__).with_name("phrasebank.toml")
DEFAULT_SEED = 20250929
REGISTER_WEIGHTS = {"hotline": 0.4, "inspector": 0.25, "app": 0.35}
OUT_OF_SCOPE = "other"  # label of reports that are no city management case
OUT_OF_SCOPE_NAME = "非城市管理事项"


@dataclass(frozen=True)
class Report:
    """One synthetic report and the truth behind it."""

    text: str
    category_code: str
    register: str
    town_code: str | None
    village_code: str | None
    road: str | None
    phrase_id: str  # e.g. "200102/colloquial/4": which bank phrase was used
    frame_id: str  # e.g. "hotline/7"


@cache
def load_phrasebank() -> dict:
    with PHRASEBANK.open("rb") as fh:
        return tomllib.load(fh)


def in_split(items: list, split: Split, every: int) -> list:
    """Items of one split: each ``every``-th item (1-based) is held out."""
    held = [i % every == every - 1 for i in range(len(items))]
    return [item for item, h in zip(items, held, strict=True) if h == (split == "heldout")]


@dataclass
class _Pools:
    """Everything a split may draw from."""

    phrases: dict[str, dict[str, list[str]]]  # code → register kind → phrases
    things: dict[str, list[str]]
    frames: dict[str, list[str]]
    villages: list[Village]
    roads_by_town: dict[str, list[Road]]
    landmarks: list[tuple[str, str]]
    town_aliases: dict[str, list[str]]


@cache
def _pools(split: Split) -> _Pools:
    bank, taxonomy, gaz = load_phrasebank(), load_taxonomy(), load_gazetteer()
    phrases, things = {}, {}
    for name, entry in bank["categories"].items():
        code = taxonomy.by_name(name).code
        phrases[code] = {k: in_split(entry[k], split, 3) for k in ("colloquial", "formal")}
        things[code] = entry["x"]
    missing = {c.code for c in taxonomy} - set(phrases)
    if missing:
        raise ValueError(f"phrase bank lacks categories: {sorted(missing)}")
    roads_by_town: dict[str, list[Road]] = {}
    for road in in_split(list(gaz.roads), split, 4):
        roads_by_town.setdefault(road.town_code, []).append(road)
    town_aliases: dict[str, list[str]] = {}
    for alias in gaz.aliases:
        if alias.kind == "town":
            town_aliases.setdefault(alias.town_code, []).append(alias.alias)
    return _Pools(
        phrases=phrases,
        things=things,
        frames={k: in_split(v, split, 3) for k, v in bank["frames"].items()},
        villages=in_split(list(gaz.villages), split, 4),
        roads_by_town=roads_by_town,
        landmarks=[(a.alias, a.town_code) for a in gaz.aliases if a.kind == "landmark"],
        town_aliases=town_aliases,
    )


def _place(rng: random.Random, pools: _Pools) -> tuple[str, str | None, str | None, str | None]:
    """A place phrase and its truth: (text, town_code, village_code, road)."""
    roll = rng.random()
    if roll < 0.08:  # no usable place, as in many app reports
        return rng.choice(["这边", "我家楼下", "路边", "小区里", "单位门口"]), None, None, None
    if roll < 0.14:
        name, town = rng.choice(pools.landmarks)
        return name + rng.choice(["附近", "旁边", "门口", ""]), town, None, None
    if roll < 0.55:
        village = rng.choice(pools.villages)
        town = village.town_code
        prefix = rng.choice(pools.town_aliases[town]) if rng.random() < 0.4 else ""
        name = village.short_name if rng.random() < 0.8 else village.name
        tail = rng.choice(
            [
                "",
                "门口",
                f"{rng.randint(1, 40)}栋楼下",
                "东门",
                "南门口",
                "对面",
                "菜场边上",
                f"{rng.randint(1, 20)}号楼旁边",
                "里面",
            ]
        )
        return prefix + name + tail, town, village.code, None
    town = rng.choice(sorted(pools.roads_by_town))
    road = rng.choice(pools.roads_by_town[town])
    others = [r for r in pools.roads_by_town[town] if r != road] or [road]
    other = rng.choice(others)
    shapes = [
        f"{road.name}{rng.randint(1, 999)}号",
        f"{road.name}{rng.randint(1, 999)}号附近",
        f"{road.name}与{other.name}交叉口",
        f"{road.name}上",
        f"{rng.choice(pools.town_aliases[town])}{road.name}",
        f"{road.name}公交站旁",
    ]
    return rng.choice(shapes), town, None, road.name


def _core(rng: random.Random, pools: _Pools, code: str, register: str) -> tuple[str, str]:
    """The sentence saying what is wrong, and the id of the bank phrase it came from."""
    formal_share = {"inspector": 0.8, "app": 0.3, "hotline": 0.1}[register]
    kind = "formal" if rng.random() < formal_share else "colloquial"
    phrase = rng.choice(pools.phrases[code][kind])
    bank_index = load_phrasebank()["categories"][_name(code)][kind].index(phrase)
    return phrase.replace("{x}", rng.choice(pools.things[code])), f"{code}/{kind}/{bank_index}"


def _name(code: str) -> str:
    return load_taxonomy().by_code(code).name


def _noise_clause(rng: random.Random, pools: _Pools, code: str) -> str:
    other = rng.choice([c for c in pools.things if c != code])
    template = rng.choice(load_phrasebank()["slots"]["noise"])
    return template.replace("{other}", rng.choice(pools.things[other]))


def _misspell(rng: random.Random, text: str) -> str:
    typos = load_phrasebank()["typos"]
    present = [word for word in typos if word in text]
    if present and rng.random() < 0.3:
        word = rng.choice(present)
        text = text.replace(word, rng.choice(typos[word]), 1)
    if len(text) > 8 and rng.random() < 0.15:  # a dropped or doubled character
        i = rng.randrange(len(text))
        text = text[:i] + text[i + 1 :] if rng.random() < 0.5 else text[:i] + text[i] + text[i:]
    return text


def _punctuate(rng: random.Random, text: str) -> str:
    roll = rng.random()
    if roll < 0.15:
        text = text.replace("，", ",").replace("。", ".").replace("：", ":")
    elif roll < 0.25:
        text = text.replace("，", " ").replace("。", " ")
    if rng.random() < 0.1:
        text = text.rstrip("。.") + rng.choice(["！", "!!", "？", "。。。", "~"])
    return text.strip()


def make_report(rng: random.Random, code: str, split: Split) -> Report:
    """One synthetic report of category ``code`` drawn from the ``split``'s pools."""
    pools, slots = _pools(split), load_phrasebank()["slots"]
    register = rng.choices(list(REGISTER_WEIGHTS), weights=list(REGISTER_WEIGHTS.values()))[0]
    place, town, village, road = _place(rng, pools)
    noise = _noise_clause(rng, pools, code) if rng.random() < 0.3 else ""
    core, phrase_id = _core(rng, pools, code, register)
    frame = rng.choice(pools.frames[register])
    frame_id = f"{register}/{load_phrasebank()['frames'][register].index(frame)}"
    text = frame.format(
        place=place,
        core=core,
        detail=rng.choice(slots["detail"]),
        ask=rng.choice(slots["ask"]),
        noise=noise,
    )
    if register == "hotline" and rng.random() < 0.3:
        text = rng.choice(slots["chatter"]) + text
    text = _punctuate(rng, _misspell(rng, text))
    return Report(text, code, register, town, village, road, phrase_id, frame_id)


def make_out_of_scope(rng: random.Random, split: Split) -> Report:
    """A hotline record about something else (social security, deposits, billing...)."""
    bank = load_phrasebank()["out_of_scope"]
    phrase = rng.choice(in_split(bank["phrases"], split, 3))
    frame = rng.choice(in_split(bank["frames"], split, 3))
    text = frame.format(core=phrase, ask=rng.choice(load_phrasebank()["slots"]["ask"]))
    if rng.random() < 0.3:
        text = rng.choice(load_phrasebank()["slots"]["chatter"]) + text
    return Report(
        _punctuate(rng, _misspell(rng, text)),
        OUT_OF_SCOPE,
        "hotline",
        None,
        None,
        None,
        f"{OUT_OF_SCOPE}/{bank['phrases'].index(phrase)}",
        f"{OUT_OF_SCOPE}/{bank['frames'].index(frame)}",
    )


def generate(split: Split, per_category: int, *, seed: int = DEFAULT_SEED, out_of_scope: bool = True) -> list[Report]:
    """``per_category`` reports for every category (and for "other"), shuffled.

    Reproducible: the same split, size and seed give the same reports.
    """
    rng = random.Random(f"{seed}-{split}")
    codes = [c.code for c in load_taxonomy()]
    reports = [make_report(rng, code, split) for code in codes for _ in range(per_category)]
    if out_of_scope:
        reports += [make_out_of_scope(rng, split) for _ in range(per_category)]
    rng.shuffle(reports)
    return reports


def train_and_heldout(
    train_per_category: int = 600, heldout_per_category: int = 200, *, seed: int = DEFAULT_SEED
) -> tuple[list[Report], list[Report]]:
    return (
        generate("train", train_per_category, seed=seed),
        generate("heldout", heldout_per_category, seed=seed),
    )


def iter_texts(reports: list[Report]) -> Iterator[str]:
    return (r.text for r in reports)
