"""Sources: every format streams string batches with the right _line, and bad input fails loudly."""

from __future__ import annotations

import json
import sqlite3

import openpyxl
import pyarrow as pa
import pytest

from yiwang.governance.engine.errors import SourceError
from yiwang.governance.engine.sources import CsvSource, JsonSource, SqlSource, XlsxSource, open_source

COLS = ["姓名", "联系电话"]


def _table(source) -> pa.Table:
    return pa.Table.from_batches(list(source.batches()))


def _error(source) -> SourceError:
    with pytest.raises(SourceError) as info:
        list(source.batches())
    return info.value


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_encodings_are_detected(tmp_path, encoding):
    path = tmp_path / "a.csv"
    path.write_bytes("姓名,联系电话\n张三,13800000000\n欧阳娜娜,0512-57512345\n".encode(encoding))
    source = CsvSource(path, expected_columns=COLS)
    table = _table(source)
    assert table.column("姓名").to_pylist() == ["张三", "欧阳娜娜"]
    assert table.column("_line").to_pylist() == [2, 3]
    assert table.schema.field("联系电话").type == pa.string()
    assert source.detected_encoding in ({"gbk": "gb18030"}.get(encoding, encoding), encoding)


def test_gb18030_only_characters_survive_both_decoders(tmp_path):
    text = "姓名,联系电话\n李䶮,13800000000\n𠮷田,13900000000\n"  # 䶮 and 𠮷 need GB18030 4-byte codes
    path = tmp_path / "a.csv"
    path.write_bytes(text.encode("gb18030"))
    for decoder in ("iconv", "python"):
        table = _table(CsvSource(path, encoding="gb18030", decoder=decoder, expected_columns=COLS))
        assert table.column("姓名").to_pylist() == ["李䶮", "𠮷田"]


def test_lines_count_blank_lines_and_quoted_newlines(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text('姓名,联系电话\n张三,1\n\n"李\n四",2\r\n王五,3\n', encoding="utf-8")
    table = _table(CsvSource(path, expected_columns=COLS))
    assert table.column("姓名").to_pylist() == ["张三", "李\n四", "王五"]
    assert table.column("_line").to_pylist() == [2, 4, 6]


def test_small_chunks_keep_rows_whole(tmp_path):
    rows = [f"名{i},{13800000000 + i}" for i in range(3000)]
    path = tmp_path / "a.csv"
    path.write_bytes(("姓名,联系电话\n" + "\n".join(rows) + "\n").encode("gb18030"))
    table = _table(CsvSource(path, expected_columns=COLS, chunk_bytes=1000))
    assert table.num_rows == 3000
    assert table.column("_line").to_pylist() == list(range(2, 3002))
    assert table.column("联系电话")[2999].as_py() == "13800002999"


def test_tsv_by_suffix(tmp_path):
    path = tmp_path / "a.tsv"
    path.write_text("姓名\t联系电话\n张三\t138\n", encoding="utf-8")
    assert _table(open_source(path, expected_columns=COLS)).column("联系电话").to_pylist() == ["138"]


def test_unterminated_quote_is_a_truncated_file(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text('姓名,联系电话\n张三,1\n"李四,2\n', encoding="utf-8")
    err = _error(CsvSource(path, expected_columns=COLS))
    assert (err.code, err.line) == ("truncated_file", 3)


def test_ragged_last_row_is_a_truncated_file(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("姓名,联系电话\n张三,1\n李四", encoding="utf-8")
    err = _error(CsvSource(path, expected_columns=COLS))
    assert (err.code, err.line) == ("truncated_file", 3)


def test_ragged_middle_row_names_its_line(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("姓名,联系电话\n张三,1\n李四,2,多余\n王五,3\n", encoding="utf-8")
    err = _error(CsvSource(path, expected_columns=COLS))
    assert (err.code, err.line) == ("ragged_row", 3)
    assert err.details == {"expected": 2, "found": 3}


@pytest.mark.parametrize("decoder", ["iconv", "python"])
def test_wrong_declared_encoding_names_the_failing_line(tmp_path, decoder):
    path = tmp_path / "a.csv"
    body = "姓名,联系电话\n" + "".join(f"name{i},1\n" for i in range(50)) + "张三,2\n"
    path.write_bytes(body.encode("gb18030") + b"\xff\xfe,3\n")
    err = _error(CsvSource(path, encoding="gb18030", decoder=decoder, expected_columns=COLS))
    assert err.code == "encoding_error"
    assert err.line == 53


def test_gbk_declared_for_a_utf8_file_is_refused(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("姓名,联系电话\nabc,1\n张三,2\n", encoding="utf-8")
    err = _error(CsvSource(path, encoding="GBK", expected_columns=COLS))
    assert (err.code, err.line) == ("encoding_mismatch", 1)  # the Chinese header is the first non-ASCII text


def test_utf8_declared_for_a_gb18030_file_names_the_line(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes("姓名,联系电话\nabc,1\n张三,2\n".encode("gb18030"))
    err = _error(CsvSource(path, encoding="utf-8", expected_columns=COLS))
    assert err.code == "encoding_error" and err.line in (1, 3)


def test_header_checks(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("姓名,备注\n张三,x\n", encoding="utf-8")
    err = _error(CsvSource(path, expected_columns=COLS))
    assert (err.code, err.column, err.line) == ("missing_columns", "联系电话", 1)
    path.write_text("姓名,联系电话,备注\n张三,1,x\n", encoding="utf-8")
    err = _error(CsvSource(path, expected_columns=COLS))
    assert (err.code, err.details["columns"]) == ("unknown_columns", ["备注"])
    table = _table(CsvSource(path, expected_columns=COLS, unknown_columns="ignore"))
    assert table.column_names == [*COLS, "_line"]
    path.write_text("姓名,姓名\n1,2\n", encoding="utf-8")
    assert _error(CsvSource(path)).code == "duplicate_columns"


def test_size_limit_and_empty_file(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("姓名,联系电话\n张三,1\n", encoding="utf-8")
    err = _error(CsvSource(path, max_bytes=10))
    assert err.code == "file_too_large" and err.details["limit"] == 10
    path.write_text("", encoding="utf-8")
    assert _error(CsvSource(path)).code == "empty_file"


def test_error_is_structured():
    err = SourceError("ragged_row", "bad", file="a.csv", line=3, column="x")
    assert err.to_dict() == {
        "code": "ragged_row",
        "message": "bad",
        "file": "a.csv",
        "line": 3,
        "column": "x",
        "details": {},
    }
    assert "a.csv:3" in str(err)


def _workbook(path, *, merged=False, sheets=1):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "人口"
    ws.append(["姓名", "联系电话"])
    ws.append(["张三", 13800000000])
    ws.append([None, None])
    ws.append(["李四", "0512-57512345"])
    if merged:
        ws.merge_cells("A4:B4")
    for i in range(1, sheets):
        wb.create_sheet(f"表{i}")
    wb.save(path)


def test_xlsx_rows_lines_and_values(tmp_path):
    path = tmp_path / "a.xlsx"
    _workbook(path)
    table = _table(XlsxSource(path, expected_columns=COLS))
    assert table.column("联系电话").to_pylist() == ["13800000000", "0512-57512345"]
    assert table.column("_line").to_pylist() == [2, 4]


def test_xlsx_merged_cells_and_sheet_choice(tmp_path):
    path = tmp_path / "m.xlsx"
    _workbook(path, merged=True)
    err = _error(XlsxSource(path, expected_columns=COLS))
    assert (err.code, err.line, err.column) == ("xlsx_merged_cells", 4, "A")
    path2 = tmp_path / "s.xlsx"
    _workbook(path2, sheets=3)
    err = _error(XlsxSource(path2, expected_columns=COLS))
    assert err.code == "xlsx_sheet_required" and err.details["sheets"] == ["人口", "表1", "表2"]
    assert _table(XlsxSource(path2, sheet="人口", expected_columns=COLS)).num_rows == 2
    assert _error(XlsxSource(path2, sheet="无", expected_columns=COLS)).code == "xlsx_sheet_not_found"


def test_json_array_keeps_numbers_as_text(tmp_path):
    path = tmp_path / "a.json"
    path.write_text(
        '[\n {"姓名": "张三", "联系电话": 13800000000},\n {"姓名": "李四",\n  "联系电话": 320583199001011234}\n]',
        encoding="utf-8",
    )
    table = _table(JsonSource(path, expected_columns=COLS))
    assert table.column("联系电话").to_pylist() == ["13800000000", "320583199001011234"]
    assert table.column("_line").to_pylist() == [2, 3]


def test_ndjson_lines_and_missing_keys(tmp_path):
    path = tmp_path / "a.ndjson"
    path.write_text(
        json.dumps({"姓名": "张三"}, ensure_ascii=False)
        + "\n\n"
        + json.dumps({"姓名": "李四", "联系电话": "1"}, ensure_ascii=False)
        + "\n",
        encoding="utf-8",
    )
    table = _table(open_source(path, expected_columns=COLS))
    assert table.column("联系电话").to_pylist() == [None, "1"]
    assert table.column("_line").to_pylist() == [1, 3]


def test_truncated_and_invalid_json(tmp_path):
    path = tmp_path / "a.json"
    path.write_text('[{"姓名": "张三", "联系电话": "1"},\n{"姓名": "李', encoding="utf-8")
    assert _error(JsonSource(path, expected_columns=COLS)).code == "truncated_file"
    path.write_text('[{"姓名": "张三", "联系电话": "1", "x": 2}]', encoding="utf-8")
    assert _error(JsonSource(path, expected_columns=COLS)).code == "unknown_columns"


def test_sql_table_and_query_in_chunks(tmp_path):
    db = tmp_path / "d.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE people (姓名 TEXT, 联系电话 INTEGER)")
        conn.executemany("INSERT INTO people VALUES (?, ?)", [(f"名{i}", 13800000000 + i) for i in range(25)])
    url = f"sqlite:///{db}"
    batches = list(SqlSource(url, table="people", expected_columns=COLS, chunk_rows=10).batches())
    assert [b.num_rows for b in batches] == [10, 10, 5]
    table = pa.Table.from_batches(batches)
    assert table.column("联系电话")[24].as_py() == "13800000024"
    assert table.column("_line").to_pylist() == list(range(1, 26))
    rows = _table(
        SqlSource(
            url,
            query="SELECT 姓名, 联系电话 FROM people WHERE 联系电话 > :n",
            params={"n": 13800000020},
            expected_columns=COLS,
        )
    )
    assert rows.num_rows == 4
    err = _error(SqlSource(url, table="missing"))
    assert err.code == "database_error"


def test_utf16_with_bom_is_detected(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes("姓名\t联系电话\n张三\t138\n".encode("utf-16"))
    source = open_source(path, expected_columns=COLS)
    table = _table(source)
    assert source.detected_encoding == "utf-16"
    assert table.column("姓名").to_pylist() == ["张三"] and table.column("_line").to_pylist() == [2]
