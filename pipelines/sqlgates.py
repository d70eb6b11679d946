"""Gates run where the data is: each expectation of a GX suite compiled to DuckDB SQL.

The suites (expectations/*.json, plus the ones pipelines.suites generates) stay the
contract, in GX 1.x suite format; Great Expectations itself (pipelines.checks.
validate_frame) stays the reference implementation. This module runs the same suite as
SQL on the table, without copying it into pandas, and returns the same ValidationReport:
per failed expectation the type, kwargs, rule (meta.rule), unexpected count and the first
rows that fail (in table order, with their source `line`).

Each expectation compiles to the rows it looks at (its domain: the `row_condition`, the
`ignore_row_if` choice, and non-null values for a column-value expectation, as GX's pandas
engine does) and a test of an unexpected row. A row-wise expectation is one
`count(*) ... WHERE domain AND unexpected`; a uniqueness one counts the rows of duplicated
keys with GROUP BY. Sample rows are only read when the count is not zero.

A suite this module cannot compile (an expectation type or a kwarg it does not know, a
row_condition outside the pandas subset below) raises SuiteError before any query runs: the
gate fails loudly and never passes on an expectation it skipped. Every committed suite is
compiled by a unit test, so a new kind reaches this module before it reaches a run.

Semantics kept from GX's pandas engine (the reference):
- NULL and a float NaN are both missing (pandas reads a NULL DOUBLE as NaN), and a missing
  value is never in a set, between bounds or greater than another;
- `row_condition` is a pandas `DataFrame.query` string: `&`, `|` bind like `and`, `or`;
  missing values compare as in the pandas column types DuckDB gives (see condition_sql);
- the failures come in suite order (GX orders them its own way), with the kwargs as the
  suite has them (GX shows a row_condition as {"pass_through_filter": ...}).
- match_regex is a search (`str.contains`), not a full match. DuckDB uses RE2, whose `$`
  does not match before a final newline and whose `\\d`, `\\w` are ASCII only, where Python
  `re` matches both: such a value fails here and passes in GX, never the other way round.
"""

from __future__ import annotations

import ast
import io
import math
import tokenize
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from pipelines.checks import (
    SAMPLE_ROWS,
    ExpectationFailure,
    SuiteError,
    ValidationReport,
    gate_suite,
    suite_path,
)
from pipelines.enginemem import bounded_memory
from pipelines.settings import EXPECTATIONS_DIR

CONDITION = {"row_condition", "condition_parser"}
PAIR = {"column_A", "column_B", "ignore_row_if"} | CONDITION
# The kwargs each supported expectation type takes (GX 1.x names); the first group of each
# is required.
KINDS: dict[str, tuple[set[str], set[str]]] = {
    "expect_column_values_to_not_be_null": ({"column"}, CONDITION),
    "expect_column_values_to_be_null": ({"column"}, CONDITION),
    "expect_column_values_to_be_in_set": ({"column", "value_set"}, CONDITION),
    "expect_column_values_to_be_between": (
        {"column"},
        {"min_value", "max_value", "strict_min", "strict_max"} | CONDITION,
    ),
    "expect_column_values_to_match_regex": ({"column", "regex"}, CONDITION),
    "expect_column_values_to_be_unique": ({"column"}, CONDITION),
    "expect_compound_columns_to_be_unique": ({"column_list"}, {"ignore_row_if"} | CONDITION),
    "expect_column_pair_values_to_be_in_set": ({"column_A", "column_B", "value_pairs_set"}, PAIR),
    "expect_column_pair_values_a_to_be_greater_than_b": (
        {"column_A", "column_B"},
        {"or_equal"} | PAIR,
    ),
}
PAIR_IGNORE = ("both_values_are_missing", "either_value_is_missing", "neither")
MULTI_IGNORE = ("all_values_are_missing", "any_value_is_missing", "never")
FLOAT_TYPES = ("FLOAT", "DOUBLE", "REAL")
NULLABLE_TYPES = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT"}
NULLABLE_TYPES |= {"UINTEGER", "UBIGINT", "BOOLEAN"}


@dataclass(frozen=True)
class Compiled:
    """One expectation as SQL over the table's columns."""

    spec: dict[str, Any]
    columns: list[str]  # every column it reads (a missing one fails the expectation)
    domain: str  # the rows it looks at
    unexpected: str | None  # a row-wise test; None for a uniqueness expectation
    key: list[str]  # the columns that must be unique together (uniqueness only)


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(value: Any) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise SuiteError(f"a bound or value of {value!r} cannot be compiled to SQL")
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise SuiteError(f"a value of type {type(value).__name__} ({value!r}) cannot be compiled")


@dataclass(frozen=True)
class Table:
    """A table's SQL name, its columns with their DuckDB types, and the ORDER BY that gives
    its rows in table order: a base table keeps its insertion order in rowid; a view (a
    staging step's table: a view of its Parquet files) is read in the files' order, which
    DuckDB keeps where no ORDER BY is given (preserve_insertion_order, on by default)."""

    sql: str
    types: dict[str, str]
    order: str = ""

    @classmethod
    def of(cls, con: duckdb.DuckDBPyConnection, table: str) -> Table:
        schema, name = table.split(".", 1)
        sql = f"{ident(schema)}.{ident(name)}"
        types = {row[0]: str(row[1]).upper() for row in con.execute(f"DESCRIBE {sql}").fetchall()}
        base = con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name = ? "
            "AND database_name = current_database()",
            [schema, name],
        ).fetchone()
        return cls(sql, types, " ORDER BY rowid" if base and base[0] else "")

    def missing(self, column: str) -> str:
        col = ident(column)
        if self.types.get(column, "").startswith(FLOAT_TYPES):
            return f"({col} IS NULL OR isnan({col}))"
        return f"({col} IS NULL)"

    def value(self, column: str) -> str:
        """A column as pandas compares it: a float NaN is missing, not DuckDB's largest
        number (NaN > 1 is true in DuckDB, false in pandas)."""
        col = ident(column)
        if self.types.get(column, "").startswith(FLOAT_TYPES):
            return f"(CASE WHEN isnan({col}) THEN NULL ELSE {col} END)"
        return col

    def nullable(self, column: str) -> bool:
        """Whether pandas reads the column as a nullable (NA-propagating) type."""
        return self.types.get(column, "") in NULLABLE_TYPES

    def equals(self, column: str, value: Any) -> str:
        """Pandas equality of a column with a suite constant: a missing value equals only
        None; a constant of another kind (a string against a number) equals nothing."""
        if value is None:
            return self.missing(column)
        if not _fits(value, self.types.get(column, "")):
            return "FALSE"
        return f"coalesce({ident(column)} = {literal(value)}, FALSE)"


def _fits(value: Any, duck_type: str) -> bool:
    text = duck_type.startswith(("VARCHAR", "TEXT", "STRING"))
    if isinstance(value, str):
        return text
    if isinstance(value, bool):
        return duck_type == "BOOLEAN"
    if isinstance(value, (int, float)):
        return not text and duck_type != "BOOLEAN"
    return False


def compile_suite(spec: dict[str, Any], table: Table, path: Path) -> list[Compiled]:
    """Every expectation of `spec` compiled for `table`; SuiteError (naming the suite file,
    the expectation and why) for anything this module does not know."""
    compiled = []
    for number, exp in enumerate(spec.get("expectations", []), 1):
        try:
            compiled.append(compile_expectation(exp, table))
        except SuiteError as exc:
            raise SuiteError(
                f"{path}: expectation {number} ({exp.get('type')}) cannot run as SQL: {exc}"
            ) from exc
    return compiled


def compile_expectation(exp: dict[str, Any], table: Table) -> Compiled:
    kind = exp.get("type")
    if kind not in KINDS:
        raise SuiteError(
            f"unknown expectation type {kind!r}; pipelines/sqlgates.py compiles "
            + ", ".join(sorted(KINDS))
        )
    kw = dict(exp.get("kwargs") or {})
    required, optional = KINDS[kind]
    if missing := sorted(required - set(kw)):
        raise SuiteError(f"missing kwargs {missing}")
    if unknown := sorted(set(kw) - required - optional):
        raise SuiteError(f"kwargs {unknown} are not supported")
    for name in ("column", "column_A", "column_B"):
        if name in kw and not isinstance(kw[name], str):
            raise SuiteError(f"{name} must be a column name")
    domain = []
    if kw.get("row_condition"):
        domain.append(condition_sql(kw["row_condition"], kw.get("condition_parser"), table))
    if kind == "expect_compound_columns_to_be_unique":
        return _compound_unique(exp, kw, table, domain)
    if "column_A" in kw:
        return _pair(exp, kw, table, domain)
    return _column(exp, kw, table, domain)


def _column(exp: dict[str, Any], kw: dict[str, Any], table: Table, domain: list[str]) -> Compiled:
    kind, col = exp["type"], kw["column"]
    c = ident(col)
    if kind == "expect_column_values_to_not_be_null":
        return Compiled(exp, [col], _and(domain), table.missing(col), [])
    if kind == "expect_column_values_to_be_null":
        return Compiled(exp, [col], _and(domain), f"NOT {table.missing(col)}", [])
    domain = [*domain, f"NOT {table.missing(col)}"]  # the other kinds skip missing values
    if kind == "expect_column_values_to_be_unique":
        return Compiled(exp, [col], _and(domain), None, [col])
    if kind == "expect_column_values_to_be_between":
        return Compiled(exp, [col], _and(domain), _outside(c, kw), [])
    if kind == "expect_column_values_to_match_regex":
        if not isinstance(kw["regex"], str):
            raise SuiteError("regex must be a string")
        test = f"regexp_matches(CAST({c} AS VARCHAR), {literal(kw['regex'])})"
        return Compiled(exp, [col], _and(domain), f"NOT {test}", [])
    values = kw["value_set"]  # expect_column_values_to_be_in_set
    if values is None:  # GX: vacuously true
        return Compiled(exp, [col], _and(domain), "FALSE", [])
    if not isinstance(values, list):
        raise SuiteError("value_set must be a list")
    matches = [table.equals(col, v) for v in values if v is not None]
    return Compiled(exp, [col], _and(domain), f"NOT ({_or(matches)})", [])


def _compound_unique(
    exp: dict[str, Any], kw: dict[str, Any], table: Table, domain: list[str]
) -> Compiled:
    cols = kw["column_list"]
    if not isinstance(cols, list) or not cols or not all(isinstance(c, str) for c in cols):
        raise SuiteError("column_list must be a list of column names")
    ignore = kw.get("ignore_row_if", "all_values_are_missing")
    if ignore not in MULTI_IGNORE:
        raise SuiteError(f"ignore_row_if {ignore!r} is not one of {MULTI_IGNORE}")
    present = [f"NOT {table.missing(c)}" for c in cols]
    if ignore == "all_values_are_missing":
        domain = [*domain, _or(present)]
    elif ignore == "any_value_is_missing":
        domain = [*domain, _and(present)]
    return Compiled(exp, list(cols), _and(domain), None, list(cols))


def _pair(exp: dict[str, Any], kw: dict[str, Any], table: Table, domain: list[str]) -> Compiled:
    a, b = kw["column_A"], kw["column_B"]
    ignore = kw.get("ignore_row_if", "both_values_are_missing")
    if ignore not in PAIR_IGNORE:
        raise SuiteError(f"ignore_row_if {ignore!r} is not one of {PAIR_IGNORE}")
    if ignore == "both_values_are_missing":
        domain = [*domain, f"NOT ({table.missing(a)} AND {table.missing(b)})"]
    elif ignore == "either_value_is_missing":
        domain = [*domain, f"NOT ({table.missing(a)} OR {table.missing(b)})"]
    if exp["type"] == "expect_column_pair_values_a_to_be_greater_than_b":
        op = ">=" if kw.get("or_equal") else ">"
        test = f"coalesce({table.value(a)} {op} {table.value(b)}, FALSE)"
        return Compiled(exp, [a, b], _and(domain), f"NOT {test}", [])
    pairs = kw["value_pairs_set"]
    if not isinstance(pairs, list) or not all(
        isinstance(p, (list, tuple)) and len(p) == 2 for p in pairs
    ):
        raise SuiteError("value_pairs_set must be a list of [A, B] pairs")
    matches = [f"({table.equals(a, x)} AND {table.equals(b, y)})" for x, y in pairs]
    return Compiled(exp, [a, b], _and(domain), f"NOT ({_or(matches)})", [])


def _outside(col: str, kw: dict[str, Any]) -> str:
    low, high = kw.get("min_value"), kw.get("max_value")
    if low is None and high is None:
        raise SuiteError("min_value and max_value cannot both be None")
    if low is not None and high is not None and low > high:
        raise SuiteError("min_value cannot be greater than max_value")
    tests = []
    if low is not None:
        tests.append(f"{literal(low)} {'<' if kw.get('strict_min') else '<='} {col}")
    if high is not None:
        tests.append(f"{col} {'<' if kw.get('strict_max') else '<='} {literal(high)}")
    return f"NOT coalesce({' AND '.join(tests)}, FALSE)"


def _and(parts: list[str]) -> str:
    return " AND ".join(f"({p})" for p in parts) if parts else "TRUE"


def _or(parts: list[str]) -> str:
    return " OR ".join(f"({p})" for p in parts) if parts else "FALSE"


# -- row_condition: the subset of pandas DataFrame.query the suites use ------------------------
COMPARE = {ast.Eq: "=", ast.NotEq: "<>", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}
ARITH = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
NULL_TESTS = {"isnull": True, "isna": True, "notnull": False, "notna": False}


def condition_sql(condition: Any, parser: Any, table: Table) -> str:
    """A pandas `row_condition` as a SQL test that is TRUE or FALSE, never NULL.

    Missing values behave as in the frame GX filters: DuckDB gives float, text and
    timestamp columns NaN semantics in pandas (a comparison with a missing value is False,
    `!=` is True), integer and BOOLEAN columns pandas' nullable types, whose NA propagates
    through comparisons, `&`, `|` and `~` exactly as SQL's NULL does; a row whose condition
    ends NA is not selected.

    Only the pandas parser's string conditions: column names, numbers, strings, booleans,
    `== != < <= > >=`, `in`/`not in` a list, `+ - * /`, `& | ~ and or not`, and
    `column.isnull()` / `isna()` / `notnull()` / `notna()`. Anything else is a SuiteError.
    """
    if parser != "pandas" or not isinstance(condition, str):
        raise SuiteError(
            f"row_condition {condition!r} with condition_parser {parser!r}: only pandas "
            "string conditions compile"
        )
    tree = _parse(condition)
    return f"coalesce({_Condition(table, condition).boolean(tree.body)}, FALSE)"


def _parse(condition: str) -> ast.Expression:
    """Parse as pandas does: `&` and `|` take the precedence of `and` and `or`."""
    try:
        tokens = [
            (tokenize.NAME, {"&": "and", "|": "or"}[tok.string])
            if tok.type == tokenize.OP and tok.string in ("&", "|")
            else (tok.type, tok.string)
            for tok in tokenize.generate_tokens(io.StringIO(condition).readline)
        ]
        return ast.parse(tokenize.untokenize(tokens).strip(), mode="eval")
    except (SyntaxError, tokenize.TokenError) as exc:
        raise SuiteError(f"row_condition {condition!r} does not parse: {exc}") from exc


class _Condition:
    def __init__(self, table: Table, text: str) -> None:
        self.table = table
        self.text = text

    def fail(self, node: ast.AST) -> SuiteError:
        return SuiteError(
            f"row_condition {self.text!r}: {ast.unparse(node)!r} is outside the pandas "
            "subset pipelines/sqlgates.py compiles"
        )

    def boolean(self, node: ast.AST) -> str:
        """A SQL test; NULL only where pandas has NA (see condition_sql)."""
        if isinstance(node, ast.BoolOp):
            op = " AND " if isinstance(node.op, ast.And) else " OR "
            return "(" + op.join(self.boolean(v) for v in node.values) + ")"
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.Invert)):
            return f"(NOT {self.boolean(node.operand)})"
        if isinstance(node, ast.Compare):
            parts, left = [], node.left
            for op, right in zip(node.ops, node.comparators, strict=True):
                parts.append(self.compare(left, op, right))
                left = right
            return "(" + " AND ".join(parts) + ")"
        if isinstance(node, ast.Call):
            func = node.func
            if (
                isinstance(func, ast.Attribute)
                and func.attr in NULL_TESTS
                and isinstance(func.value, ast.Name)
                and not node.args
                and not node.keywords
            ):
                test = self.table.missing(func.value.id)
                return test if NULL_TESTS[func.attr] else f"(NOT {test})"
        if isinstance(node, ast.Name):
            return ident(node.id)
        if isinstance(node, ast.Constant) and isinstance(node.value, bool):
            return literal(node.value)
        raise self.fail(node)

    def compare(self, left: ast.AST, op: ast.cmpop, right: ast.AST) -> str:
        if isinstance(op, (ast.In, ast.NotIn)):
            if not isinstance(right, (ast.List, ast.Tuple)):
                raise self.fail(right)
            items = ", ".join(self.value(e) for e in right.elts)
            if isinstance(op, ast.In):
                return f"coalesce({self.value(left)} IN ({items}), FALSE)"
            return f"coalesce({self.value(left)} NOT IN ({items}), TRUE)"
        if type(op) not in COMPARE:
            raise self.fail(left)
        test = f"{self.value(left)} {COMPARE[type(op)]} {self.value(right)}"
        read = [n.id for side in (left, right) for n in ast.walk(side) if isinstance(n, ast.Name)]
        if any(self.table.nullable(name) for name in read):
            return f"({test})"
        return f"coalesce({test}, {'TRUE' if isinstance(op, ast.NotEq) else 'FALSE'})"

    def value(self, node: ast.AST) -> str:
        if isinstance(node, ast.Name):
            return self.table.value(node.id)
        if isinstance(node, ast.Constant) and node.value is not None:
            return literal(node.value)
        if isinstance(node, ast.BinOp) and type(node.op) in ARITH:
            return f"({self.value(node.left)} {ARITH[type(node.op)]} {self.value(node.right)})"
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            sign = "-" if isinstance(node.op, ast.USub) else "+"
            return f"({sign}{self.value(node.operand)})"
        raise self.fail(node)


def condition_columns(condition: str) -> list[str]:
    """The column names a pandas row_condition reads (after `condition_sql` accepted it)."""
    return [n.id for n in ast.walk(_parse(condition)) if isinstance(n, ast.Name)]


# -- running ----------------------------------------------------------------------------------
def validate_sql(
    con: duckdb.DuckDBPyConnection,
    table: str,
    suite_name: str,
    label: str | None = None,
    root: Path = EXPECTATIONS_DIR,
    generated: list[dict[str, Any]] | None = None,
) -> ValidationReport:
    """Run the suite (generated + hand-written, see checks.gate_suite) on `table` in DuckDB;
    the same report as checks.validate_frame gives for the table's rows."""
    spec = gate_suite(suite_name, root, generated)
    shown = label or table
    tbl = Table.of(con, table)
    compiled = compile_suite(spec, tbl, suite_path(suite_name, root))
    rows = int(con.execute(f"SELECT count(*) FROM {tbl.sql}").fetchone()[0])
    if rows == 0:
        # As validate_frame: an empty table only has to have the expected columns.
        return ValidationReport(suite_name, shown, 0, len(compiled), _absent_columns(compiled, tbl))
    with bounded_memory(con):  # a uniqueness check's hash table grows with the table
        counts = _row_wise_counts(con, tbl, compiled)
        failures = [
            f for i, c in enumerate(compiled) if (f := _run(con, tbl, c, counts.get(i))) is not None
        ]
    return ValidationReport(suite_name, shown, rows, len(compiled), failures)


def _read_columns(c: Compiled) -> list[str]:
    """Every column an expectation reads, its row condition's included."""
    condition = (c.spec.get("kwargs") or {}).get("row_condition")
    return c.columns + (condition_columns(condition) if condition else [])


def _row_wise_counts(
    con: duckdb.DuckDBPyConnection, tbl: Table, compiled: list[Compiled]
) -> dict[int, int]:
    """The unexpected count of every row-wise expectation whose columns exist, by its index,
    all from one pass over the table (a query per expectation cost ~1 ms each, some 470 a
    build). Empty when that query fails: each expectation then runs on its own, so the
    error is reported against the expectation that raised it."""
    row_wise = [
        (i, c)
        for i, c in enumerate(compiled)
        if c.unexpected is not None and all(col in tbl.types for col in _read_columns(c))
    ]
    if not row_wise:
        return {}
    counts = ", ".join(
        f"count(*) FILTER (WHERE ({c.domain}) AND ({c.unexpected}))" for _, c in row_wise
    )
    try:
        found = con.execute(f"SELECT {counts} FROM {tbl.sql}").fetchone()
    except duckdb.Error:
        return {}
    return {i: int(n) for (i, _), n in zip(row_wise, found or (), strict=True)}


def _absent_columns(compiled: list[Compiled], tbl: Table) -> list[ExpectationFailure]:
    failures = []
    for c in compiled:
        missing = [col for col in c.columns if col not in tbl.types]
        if missing:
            failures.append(
                ExpectationFailure(c.spec["type"], {"column": missing}, "columns present", None)
            )
    return failures


def _run(
    con: duckdb.DuckDBPyConnection, tbl: Table, c: Compiled, count: int | None = None
) -> ExpectationFailure | None:
    """`count`: its unexpected count, when `_row_wise_counts` found it (only the sample rows
    are read then)."""
    spec = c.spec
    kwargs = dict(spec.get("kwargs") or {})
    rule = (spec.get("meta") or {}).get("rule")
    missing = [col for col in _read_columns(c) if col not in tbl.types]
    if missing:
        # GX reports an expectation on a column the table lacks as failed, with no count.
        message = f"columns {missing} not found in the table"
        return ExpectationFailure(spec["type"], kwargs, rule or message, None)
    if count == 0:
        return None
    try:
        count, sample = _count_and_sample(con, tbl, c, count)
    except duckdb.Error as exc:
        return ExpectationFailure(spec["type"], kwargs, rule or str(exc), None)
    if count == 0:
        return None
    return ExpectationFailure(spec["type"], kwargs, rule or spec["type"], count, sample)


def _count_and_sample(
    con: duckdb.DuckDBPyConnection, tbl: Table, c: Compiled, known: int | None = None
) -> tuple[int, list[dict[str, Any]]]:
    """The unexpected count (`known`: found already) and the first unexpected rows."""
    if c.unexpected is not None:
        where = f"({c.domain}) AND ({c.unexpected})"
        count = (
            known
            if known is not None
            else con.execute(f"SELECT count(*) FROM {tbl.sql} WHERE {where}").fetchone()[0]
        )
        sample_sql = f"SELECT * FROM {tbl.sql} WHERE {where}{tbl.order} LIMIT {SAMPLE_ROWS}"
    else:
        # Uniqueness: every row of a key that occurs more than once is unexpected (pandas
        # duplicated(keep=False)); a missing value is a value like any other in a key.
        keys = [tbl.value(col) for col in c.key]  # NaN and NULL: one missing value
        # First count the distinct 64-bit hashes of the key (far less memory than the key's
        # text, and a third faster than grouping them): equal keys have equal hashes, so as
        # many hashes as rows means no repeated key; only when one repeats (a duplicate, or
        # rarely a collision) are the keys compared.
        probe = (
            f"SELECT count(*) > count(DISTINCT hash({', '.join(keys)})) FROM {tbl.sql} "
            f"WHERE {c.domain}"
        )
        if not con.execute(probe).fetchone()[0]:
            return 0, []
        named = ", ".join(f"{k} AS _gate_k{i}" for i, k in enumerate(keys))
        grouped = (
            f"SELECT {named}, count(*) AS _gate_n FROM {tbl.sql} WHERE {c.domain} "
            "GROUP BY ALL HAVING count(*) > 1"
        )
        count = con.execute(f"SELECT coalesce(sum(_gate_n), 0) FROM ({grouped})").fetchone()[0]
        same = " AND ".join(f"{k} IS NOT DISTINCT FROM d._gate_k{i}" for i, k in enumerate(keys))
        if tbl.order:
            sample_sql = (
                f"SELECT * FROM {tbl.sql} SEMI JOIN ({grouped}) AS d ON {same} "
                f"WHERE {c.domain}{tbl.order} LIMIT {SAMPLE_ROWS}"
            )
        else:
            # A view keeps its files' order through a scan, not through a join: its rows
            # are numbered as scanned, and the sample is ordered by that number.
            sample_sql = (
                f"SELECT * EXCLUDE (_gate_row) FROM (SELECT row_number() OVER () AS _gate_row, "
                f"* FROM {tbl.sql} WHERE {c.domain}) AS t SEMI JOIN ({grouped}) AS d ON {same} "
                f"ORDER BY _gate_row LIMIT {SAMPLE_ROWS}"
            )
    count = int(count)
    if count == 0:
        return 0, []
    cursor = con.execute(sample_sql)
    names = [d[0] for d in cursor.description]
    return count, [_plain(dict(zip(names, row, strict=True))) for row in cursor.fetchall()]


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: None if isinstance(v, float) and v != v else v for k, v in row.items()}
