"""``yiwang events ...``: classify texts, issue API keys, retrain the triage model, run timers."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from yiwang.core.audit import Origin
from yiwang.core.commands import session_factory, settings_or_exit
from yiwang.core.errors import YiwangError
from yiwang.core.security import SYSTEM_ACTOR

app = typer.Typer(no_args_is_help=True, help="City event center: triage, API keys, model, timers.")
apikey_app = typer.Typer(no_args_is_help=True, help="API keys for Open311 clients and machine sources.")
app.add_typer(apikey_app, name="apikey")
console = Console(stderr=True)
ORIGIN = Origin(ip="cli")


@app.command()
def classify(
    texts: list[str] = typer.Argument(..., help="Report texts (one argument each)."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON array."),
) -> None:
    """Classify report texts with the active triage model (the one intake uses)."""
    from yiwang.events.triage import corpus, load_taxonomy
    from yiwang.events.triage_versions import active_classifier

    settings = settings_or_exit()
    with session_factory(settings)() as session:
        clf = active_classifier(session, settings.home_path)
    tax = load_taxonomy()
    results: list[dict[str, Any]] = []
    for text, triage in zip(texts, clf.top_k(texts, k=3), strict=True):
        best = triage.best
        cat = None if best.code == corpus.OUT_OF_SCOPE else tax.by_code(best.code)
        results.append(
            {
                "text": text,
                "category_code": best.code,
                "category_name": best.name,
                "major_category": cat.major_name if cat else None,
                "kind": cat.kind if cat else None,
                "department": cat.department_key if cat else None,
                "confidence": round(best.confidence, 4),
                "needs_human": triage.needs_human,
                "model_version": clf.version,
                "alternatives": [
                    {"category_code": c.code, "category_name": c.name, "confidence": round(c.confidence, 4)}
                    for c in triage.candidates[1:]
                ],
            }
        )
    if as_json:
        sys.stdout.write(json.dumps(results, ensure_ascii=False) + "\n")
        return
    for r in results:
        console.print(f"{r['category_name']} ({r['category_code']}, {r['confidence']:.2f}) ← {r['text'][:60]}")


@apikey_app.command("create")
def apikey_create(name: str = typer.Argument(..., help="Client name, e.g. 'wechat-miniprogram'.")) -> None:
    """Issue a key (printed once on stdout; only its SM3 digest is stored)."""
    from yiwang.events import apikeys

    try:
        with session_factory()() as session:
            _row, value = apikeys.create(session, actor=SYSTEM_ACTOR, name=name, origin=ORIGIN)
    except YiwangError as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(2) from None
    sys.stdout.write(value + "\n")
    console.print(f"API key for {name} created; pass it as api_key (Open311) or X-API-Key (intake API).")


@apikey_app.command("list")
def apikey_list() -> None:
    from yiwang.events import apikeys

    with session_factory()() as session:
        table = Table("name", "prefix", "created", "by", "revoked")
        for k in apikeys.list_keys(session):
            table.add_row(
                k.name,
                k.prefix,
                f"{k.created_at:%Y-%m-%d}",
                k.created_by or "",
                f"{k.revoked_at:%Y-%m-%d}" if k.revoked_at else "",
            )
    Console().print(table)


@apikey_app.command("revoke")
def apikey_revoke(name: str) -> None:
    from yiwang.events import apikeys

    try:
        with session_factory()() as session:
            apikeys.revoke(session, actor=SYSTEM_ACTOR, name=name, origin=ORIGIN)
    except YiwangError as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(2) from None
    console.print(f"revoked {name}")


@app.command()
def retrain() -> None:
    """Train a new model version on the corpus plus the dispatchers' corrections, and activate it."""
    from yiwang.events.triage_versions import train_version

    settings = settings_or_exit()
    with session_factory(settings)() as session:
        row = train_version(session, settings.home_path, actor=SYSTEM_ACTOR, origin=ORIGIN)
        metrics = json.loads(row.metrics)
    sys.stdout.write(json.dumps(metrics, ensure_ascii=False) + "\n")


@app.command()
def models() -> None:
    """List model versions and their metrics."""
    from yiwang.events.triage_versions import versions

    with session_factory()() as session:
        table = Table("version", "active", "corrections", "held-out", "hand-written")
        for v in versions(session):
            m = json.loads(v.metrics)
            table.add_row(
                v.version,
                "✓" if v.active else "",
                str(v.corrections),
                str(m.get("heldout_accuracy")),
                str(m.get("handwritten_accuracy")),
            )
    Console().print(table)


@app.command()
def tick() -> None:
    """Run the triage worker and one SLA timer tick now (they also run inside `yiwang up`)."""
    from yiwang.events import pipeline, timers

    settings = settings_or_exit()
    with session_factory(settings)() as session:
        triaged = pipeline.run_all(session, home=settings.home_path)
        counts = timers.tick(session)
    sys.stdout.write(json.dumps({"triaged": triaged, **counts}) + "\n")


@app.command("import-hotline")
def import_hotline(path: Path = typer.Argument(..., exists=True, dir_okay=False)) -> None:
    """Import a 12345 hotline export (CSV or XLSX)."""
    from yiwang.events import hotline

    try:
        with session_factory()() as session:
            result = hotline.import_file(
                session, actor=SYSTEM_ACTOR, data=path.read_bytes(), filename=path.name, origin=ORIGIN
            )
    except YiwangError as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(2) from None
    out = {k: v for k, v in result.__dict__.items() if k != "case_ids"}
    sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
