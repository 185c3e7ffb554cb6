"""Pull a table or a query from any SQLAlchemy database URL, in chunks.

Rows are streamed with a server-side cursor where the driver supports it (``stream_results``),
so a department's large table never sits in memory at once. ``_line`` is the 1-based row
number within the result. Values are rendered as text the way the file sources receive them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from ..errors import DATABASE_ERROR, SourceError
from .common import rows_to_batch, select_columns


@dataclass
class SqlSource:
    url: str
    table: str | None = None
    query: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    expected_columns: Sequence[str] | None = None
    unknown_columns: str = "error"
    chunk_rows: int = 50_000
    engine: Any = None  # an existing sqlalchemy Engine may be passed instead of building one

    def __post_init__(self) -> None:
        if (self.table is None) == (self.query is None):
            raise ValueError("give exactly one of table= or query=")
        self.name = self.table or "query"
        self.columns: list[str] | None = None

    def batches(self) -> Iterator[pa.RecordBatch]:
        import sqlalchemy as sa

        engine = self.engine or sa.create_engine(self.url)
        where = _redact(self.url)
        try:
            with engine.connect() as conn:
                if self.table is not None:
                    quoted = ".".join(engine.dialect.identifier_preparer.quote(p) for p in self.table.split("."))
                    stmt = sa.text(f"SELECT * FROM {quoted}")
                else:
                    assert self.query is not None  # __post_init__: exactly one of table and query
                    stmt = sa.text(self.query)
                result = conn.execution_options(stream_results=True, yield_per=self.chunk_rows).execute(
                    stmt, dict(self.params)
                )
                names = [str(k) for k in result.keys()]  # noqa: SIM118 - a Result, not a dict: iterating it reads rows
                keep = select_columns(names, self.expected_columns, unknown=self.unknown_columns, file=where, line=None)
                self.columns = keep
                index = [names.index(c) for c in keep]
                line = 1
                for part in result.partitions(self.chunk_rows):
                    rows = [[r[i] for i in index] for r in part]
                    lines = list(range(line, line + len(rows)))
                    line += len(rows)
                    yield rows_to_batch(keep, rows, lines)
        except SourceError:
            raise
        except sa.exc.SQLAlchemyError as exc:
            raise SourceError(
                DATABASE_ERROR,
                f"database error: {exc.__class__.__name__}: {getattr(exc, 'orig', None) or exc}",
                file=where,
            ) from None
        finally:
            if self.engine is None:
                engine.dispose()


def _redact(url: str) -> str:
    """Never echo a password from a database URL into an error or a load log."""
    try:
        import sqlalchemy as sa

        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "database"
