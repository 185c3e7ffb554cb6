"""Lake history answers in a fixed number of SQL statements however many snapshots it lists."""

from __future__ import annotations

from lake_helpers import people, volunteers_csv

from querycount import BUDGETS, counting
from yiwang.core.audit import Origin
from yiwang.core.security import SYSTEM_ACTOR
from yiwang.governance import ingest_file

PATH = "/api/v1/lake/resources/volunteers/history"


def _history(client) -> tuple[int, int]:
    with counting() as statements:
        response = client.get(PATH)
    assert response.status_code == 200, response.text
    return len(statements), sum(len(snaps) for snaps in response.json().values())


def test_lake_history_statements_do_not_grow_with_snapshots(lake_install, lake_factory, tmp_path, signed_in):
    def load(n: int) -> None:
        ingest_file(
            lake_factory,
            settings=lake_install,
            actor=SYSTEM_ACTOR,
            name="volunteers",
            path=volunteers_csv(tmp_path / f"v{n}.csv", people(3, start=n)),
            mode="replace",
            origin=Origin("t"),
        )

    load(0)
    client = signed_in("officer")
    _history(client)  # warm the table handles the process keeps
    few, few_snaps = _history(client)
    for n in (10, 20, 30):
        load(n)
    many, many_snaps = _history(client)
    assert many_snaps >= few_snaps + 6, (few_snaps, many_snaps)
    assert many == few, f"{few} statements for {few_snaps} snapshots but {many} for {many_snaps}"
    assert many <= BUDGETS["lake.history"], f"{many} statements, budget {BUDGETS['lake.history']}"
