"""The hot list routes answer in a fixed number of SQL statements, whatever the page size.

An N+1 (a query per listed row) shows up here as a count that grows from a page of 2 to a page of
many, and as a count above the budget in ``query_counts.json`` (as NetBox's ``query_counts.json``
or Zulip's ``assert_database_query_count``). Lower a budget when a change saves a statement; raise
one only with a reason in the commit.
"""

from __future__ import annotations

import os

import pytest

from querycount import BUDGETS, counting

os.environ.setdefault("YIWANG_EVENTS_HISTORY_CASES", "3000")  # as tests/events does: a small seeded history

BIG = 40  # rows on the large page; every listed route must have at least this many rows to show


def statements_for(
    client, path: str, headers: dict[str, str], limit: int, *, items: str | None, param: str = "limit"
) -> tuple[int, int]:
    """(statements, rows listed) for one GET of ``path`` with a page of ``limit``."""
    sep = "&" if "?" in path else "?"
    with counting() as statements:
        response = client.get(f"{path}{sep}{param}={limit}", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    listed = body[items] if items else body
    return len(statements), len(listed)


ROUTES = {  # budget key -> (path, account, key of the list in the answer)
    "events.cases": ("/api/v1/events/cases", "admin", "items"),
    "catalog.resources": ("/api/v1/catalog/resources", "admin", "items"),
    "audit.entries": ("/api/v1/audit/entries", "admin", None),
}


@pytest.mark.parametrize("key", sorted(ROUTES))
def test_list_route_statements_do_not_grow_with_the_page(key, client, bearer):
    path, account, items = ROUTES[key]
    headers = bearer(account)
    client.get(path + "?limit=1", headers=headers)  # warm caches that legitimately load once per process
    small, small_rows = statements_for(client, path, headers, 2, items=items)
    large, large_rows = statements_for(client, path, headers, BIG, items=items)
    assert small_rows == 2 and large_rows == BIG, f"{key}: not enough rows to compare ({small_rows}, {large_rows})"
    assert large == small, f"{key}: {small} statements for 2 rows but {large} for {BIG} (a query per row?)"
    assert large <= BUDGETS[key], f"{key}: {large} statements, budget {BUDGETS[key]} (query_counts.json)"


def test_every_budget_is_measured():
    assert set(BUDGETS) == set(ROUTES) | {"lake.history"}
