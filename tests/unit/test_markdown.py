"""pipelines.markdown: the tables the Dagster UI shows (previews, gate samples)."""

from __future__ import annotations

from pipelines import markdown


def test_a_table_has_a_header_a_rule_and_one_line_per_row() -> None:
    text = markdown.table(["geo", "value"], [("AT", 35232.0), ("BE", None)])
    assert text.splitlines() == [
        "| geo | value |",
        "|---|---|",
        "| AT | 35232.0 |",
        "| BE |  |",
    ]


def test_a_pipe_or_a_line_break_in_a_cell_does_not_break_the_table() -> None:
    text = markdown.table(["note"], [("a | b\nc",)])
    assert text.splitlines()[2] == "| a \\| b c |"


def test_records_take_their_columns_in_the_order_keys_first_appear() -> None:
    text = markdown.records_table([{"line": 4, "geo": "BE"}, {"line": 9, "flag": "p"}])
    assert text.splitlines() == [
        "| line | geo | flag |",
        "|---|---|---|",
        "| 4 | BE |  |",
        "| 9 |  | p |",
    ]
