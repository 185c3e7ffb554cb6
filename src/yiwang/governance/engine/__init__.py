"""Vectorised governance engine of the data foundation (数据治理引擎).

Pure: no database, no web. A source becomes string-typed Arrow batches; a resource's declared
rules normalise, validate, de-duplicate and mask them; the four zones (raw, clean, share,
quarantine) go to pluggable sinks.

    from yiwang.governance.engine import ResourceRules, parquet_sinks, run
    summary = run("人口.csv", rules, parquet_sinks("out/"), keys={"population": key})
"""

from .errors import SourceError
from .governor import BatchResult, Governor
from .masking import KAnonymityReport, Masker, default_mask, k_anonymity
from .pipeline import LoadSummary, run
from .quality import QualityReport
from .rules import ColumnRule, CrossFieldRule, ResourceRules
from .sinks import BatchSink, CallableSink, CollectSink, ParquetSink, Sinks, parquet_sinks
from .smcrypto import pseudonymise, sm4_decrypt_column, sm4_encrypt_column
from .sources import CsvSource, JsonSource, Source, SqlSource, XlsxSource, open_source
from .validate import RULE_NAMES

__all__ = [
    "RULE_NAMES",
    "BatchResult",
    "BatchSink",
    "CallableSink",
    "CollectSink",
    "ColumnRule",
    "CrossFieldRule",
    "CsvSource",
    "Governor",
    "JsonSource",
    "KAnonymityReport",
    "LoadSummary",
    "Masker",
    "ParquetSink",
    "QualityReport",
    "ResourceRules",
    "Sinks",
    "Source",
    "SourceError",
    "SqlSource",
    "XlsxSource",
    "default_mask",
    "k_anonymity",
    "open_source",
    "parquet_sinks",
    "pseudonymise",
    "run",
    "sm4_decrypt_column",
    "sm4_encrypt_column",
]
