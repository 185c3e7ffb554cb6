"""Property-based tests over the whole OpenAPI document (schemathesis, in-process through the ASGI app).

Every GET operation is called with generated data that fits its schema and with data that does not
(out-of-range numbers and dates included), anonymously and as the administrator; writes (POST, PUT,
PATCH, DELETE) are called anonymously, where each is refused before it does anything. No answer may
be a server error, and every 2xx answer must conform to the schema the document declares. Examples
are bounded and derandomised (``FUZZ_EXAMPLES`` per operation and mode) so the run stays well under
two minutes on a small machine; everything happens inside the test's rolled-back transaction.
"""

from __future__ import annotations

import time

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import response_schema_conformance

FUZZ_EXAMPLES = 3  # per operation and generation mode
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
# Operations whose answer is not a function of the request (a stream of the whole registry) or that
# no caller may fuzz without side effects outside the database: none today; keep the list explicit.
SKIP: set[tuple[str, str]] = set()


def _operations(schema, methods: set[str], skip_prefixes: tuple[str, ...] = ()):
    for result in schema.get_all_operations():
        op = result.ok()
        if (
            op.method.upper() in methods
            and (op.method.upper(), op.path) not in SKIP
            and not op.path.startswith(skip_prefixes)
        ):
            yield op


def _fuzz(
    app, headers: dict[str, str], methods: set[str], skip_prefixes: tuple[str, ...] = ()
) -> tuple[int, int, list[str]]:
    """Run every matching operation; returns (operations, examples, failures)."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = examples = 0
    failures: list[str] = []
    timings: list[tuple[float, str]] = []
    for op in _operations(schema, methods, skip_prefixes):
        operations += 1
        started = time.perf_counter()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            seen: list[str] = []

            @settings(
                max_examples=FUZZ_EXAMPLES,
                derandomize=True,
                database=None,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                report_multiple_bugs=False,
            )
            @given(case=op.as_strategy(generation_mode=mode, headers=headers or None))
            def run(case):
                nonlocal examples
                examples += 1
                response = case.call()
                checks = [not_a_server_error]
                if mode.is_positive and 200 <= response.status_code < 300:
                    checks.append(response_schema_conformance)
                try:
                    case.validate_response(response, checks=checks)
                except Exception as exc:
                    seen.append(
                        f"{op.method.upper()} {op.path} [{mode}] {response.status_code}: "
                        f"{case.as_curl_command()}\n    {str(exc).splitlines()[0][:300]}"
                    )

            try:
                run()
            except Unsatisfiable:  # nothing to negate (no parameters, or only free-form strings)
                pass
            except Exception as exc:
                seen.append(f"{op.method.upper()} {op.path} [{mode}]: {type(exc).__name__}: {str(exc)[:300]}")
            failures.extend(seen[:2])
        timings.append((time.perf_counter() - started, f"{op.method.upper()} {op.path}"))
    print("slowest:", ", ".join(f"{name} {t:.1f} s" for t, name in sorted(timings, reverse=True)[:5]))
    return operations, examples, failures


@pytest.fixture(scope="module")
def lake_catalog(settings):
    """The lake's Iceberg catalog tables, created before a test's rolled-back transaction holds SQLite's
    writer lock (the catalog creates them on first use, from a connection of its own)."""
    from yiwang.core.lake.catalog import open_catalog

    open_catalog(settings.db_url, settings.lake_location).engine.dispose()


@pytest.mark.slow
def test_no_operation_fails_anonymously(lake_catalog, app, client):
    started = time.perf_counter()
    operations, examples, failures = _fuzz(app, {}, {"GET"} | WRITES)
    print(f"anonymous: {operations} operations, {examples} examples, {time.perf_counter() - started:.1f} s")
    assert operations >= 70 and examples >= operations * FUZZ_EXAMPLES
    assert not failures, "\n".join(failures)


@pytest.mark.slow
def test_no_get_operation_fails_for_the_administrator(lake_catalog, app, client, bearer):
    started = time.perf_counter()
    # On SQLite the signed-in lake reads wait for the writer lock this test's rolled-back transaction holds
    # (the lake's catalog has a connection of its own): tests/lake covers them on a committed installation.
    sqlite = app.state.sessionmaker.kw["bind"].dialect.name == "sqlite"
    operations, examples, failures = _fuzz(app, bearer("admin"), {"GET"}, ("/api/v1/lake/",) if sqlite else ())
    print(f"admin: {operations} operations, {examples} examples, {time.perf_counter() - started:.1f} s")
    assert operations >= 40 and examples >= operations * FUZZ_EXAMPLES
    assert not failures, "\n".join(failures)


# The review's findings (issue 14, item 1), one by one: each was a 500 --------------------------------

BIG = str(2**63)
OUT_OF_RANGE = [
    f"/api/v1/org/departments/{BIG}",
    f"/api/v1/org/users/{BIG}",
    f"/api/v1/org/users/{BIG}/personal?reason=x",
    f"/api/v1/org/users?department_id={BIG}",
    f"/api/v1/org/users?offset={BIG}",
    f"/api/v1/audit/entries?before_id={BIG}",
    "/api/v1/audit/entries?since=0001-01-01T00:00:00",
    "/api/v1/audit/entries?until=9999-12-31T23:59:59",
    f"/api/v1/catalog/resources?department_id={BIG}",
    f"/api/v1/events/cases/{BIG}",
    f"/api/v1/events/cases/{BIG}/personal?reason=x",
    f"/api/v1/events/cases?offset={BIG}",
    "/api/v1/events/stats?start=0001-01-01&end=0001-01-02",
    "/api/v1/events/stats?start=9999-12-30&end=9999-12-31",
    "/api/v1/events/stats.xlsx?start=0001-01-01&end=0001-01-02",
    f"/api/v1/governance/loads?offset={BIG}",
    f"/api/v1/lineage/events?before_id={BIG}",
    f"/workspace/events/cases/{BIG}",
    f"/workspace/org/users/{BIG}",
]
OPEN311_OUT_OF_RANGE = [
    "/open311/v2/requests.json?start_date=0001-01-01T00:00:00",
    "/open311/v2/requests.json?end_date=9999-12-31T23:59:59",
    "/open311/v2/requests.json?start_date=0001-01-01T00:00:00%2B14:00",
]


@pytest.mark.parametrize("url", OUT_OF_RANGE)
def test_out_of_range_input_is_a_422_naming_the_field(client, bearer, url):
    r = client.get(url, headers=bearer("admin"))
    assert r.status_code == 422, (url, r.status_code, r.text[:300])
    if url.startswith("/api/"):
        field = url.split("?", 1)[1].split("=", 1)[0] if "?" in url and "reason" not in url else None
        locs = [e["loc"][-1] for e in r.json()["detail"]]
        assert field is None or field in locs, r.text


@pytest.mark.parametrize("url", OPEN311_OUT_OF_RANGE)
def test_open311_dates_out_of_range_are_refused_as_the_spec_says(client, url):
    r = client.get(url)
    assert r.status_code == 400, r.text
    [err] = r.json()
    assert err["code"] == 400 and ("start_date" in err["description"] or "end_date" in err["description"])


def test_anonymous_media_by_big_id_is_refused_not_a_500(client):
    """Public photos are reached by their unguessable public id only: any number is an unknown photo."""
    for ref in (BIG, 1, "x" * 5000):
        r = client.get(f"/open311/v2/media/{ref}")
        assert r.status_code == 404 and r.json()[0]["code"] == 404


def test_overflow_met_while_binding_is_a_422_not_a_500(app, client):
    """The safety net: a route that parses a number itself and binds it still answers 422."""
    from sqlalchemy import select

    from yiwang.events.models import Case

    @app.get("/api/v1/_test/overflow")
    def overflow(n: str):
        with app.state.sessionmaker() as session:
            session.execute(select(Case.id).where(Case.id == int(n))).all()
        return {"ok": True}

    assert client.get("/api/v1/_test/overflow", params={"n": "1"}).status_code == 200
    r = client.get("/api/v1/_test/overflow", params={"n": str(2**64)})  # OverflowError; DataError on PostgreSQL
    assert r.status_code == 422 and r.json()["code"] == "out_of_range", r.text
    assert client.get("/api/v1/_test/overflow", params={"n": "2"}).status_code == 200  # the session is usable
