"""DuckDB SQL that reads an Iceberg snapshot's Parquet data files.

Columns are matched by Iceberg field id (DuckDB's ``read_parquet(..., schema=...)``),
so renamed columns and columns added after a file was written read correctly.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyiceberg.schema import Schema
from pyiceberg.types import (
    BinaryType,
    BooleanType,
    DateType,
    DecimalType,
    DoubleType,
    FixedType,
    FloatType,
    IcebergType,
    IntegerType,
    ListType,
    LongType,
    MapType,
    StringType,
    StructType,
    TimestampType,
    TimestamptzType,
    TimeType,
    UUIDType,
)

_PRIMITIVES: dict[type, str] = {
    BooleanType: "BOOLEAN",
    IntegerType: "INTEGER",
    LongType: "BIGINT",
    FloatType: "FLOAT",
    DoubleType: "DOUBLE",
    DateType: "DATE",
    TimeType: "TIME",
    TimestampType: "TIMESTAMP",
    TimestamptzType: "TIMESTAMPTZ",
    StringType: "VARCHAR",
    UUIDType: "UUID",
    FixedType: "BLOB",
    BinaryType: "BLOB",
}


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def duckdb_type(kind: IcebergType) -> str:
    """DuckDB type name of an Iceberg type."""
    if isinstance(kind, DecimalType):
        return f"DECIMAL({kind.precision}, {kind.scale})"
    if isinstance(kind, StructType):
        return "STRUCT(" + ", ".join(f"{quote_ident(f.name)} {duckdb_type(f.field_type)}" for f in kind.fields) + ")"
    if isinstance(kind, ListType):
        return f"{duckdb_type(kind.element_type)}[]"
    if isinstance(kind, MapType):
        return f"MAP({duckdb_type(kind.key_type)}, {duckdb_type(kind.value_type)})"
    for python_type, name in _PRIMITIVES.items():
        if isinstance(kind, python_type):
            return name
    raise TypeError(f"no DuckDB type for Iceberg type {kind}")


def parquet_scan(paths: Sequence[str], schema: Schema, *, filename: bool = False) -> str:
    """A FROM-clause item reading ``paths`` as the table ``schema`` (empty if no files)."""
    if not paths:
        return f"({empty_select(schema, filename=filename)})"
    files = "[" + ", ".join(quote_literal(p) for p in paths) + "]"
    columns = ", ".join(
        f"{field.field_id}: {{name: {quote_literal(field.name)}, type: {quote_literal(duckdb_type(field.field_type))}, "
        "default_value: NULL}"
        for field in schema.fields
    )
    extra = ", filename = true" if filename else ""
    return f"read_parquet({files}, schema = MAP {{{columns}}}{extra})"


def empty_select(schema: Schema, *, filename: bool = False) -> str:
    """A typed, empty SELECT with the table's columns (a table with no snapshot yet)."""
    columns = [f"CAST(NULL AS {duckdb_type(f.field_type)}) AS {quote_ident(f.name)}" for f in schema.fields]
    if filename:
        columns.append("CAST(NULL AS VARCHAR) AS filename")
    return "SELECT " + ", ".join(columns or ["NULL AS _empty"]) + " WHERE false"
