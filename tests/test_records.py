"""A replication's records: the :class:`~sim.model.records.Table` that keeps segments and
costs as columns reads like the list of named tuples it stands for."""

from __future__ import annotations

import pickle

import pandas as pd
import pytest
from helpers import small

from sim.model import LedgerEntry, Segment, Table, simulate, table_of

pytestmark = pytest.mark.unit

ROWS = [Segment(pid=0, episode=0, modality="ost", start_day=0.0, end_day=12.5,
                end_reason="completed"),
        Segment(pid=3, episode=1, modality="rehab", start_day=4.0, end_day=90.0,
                end_reason="unplanned")]


def test_a_table_reads_like_the_list_of_its_rows():
    table = table_of(Segment, ROWS)
    assert len(table) == 2 and list(table) == ROWS
    assert table[1] == ROWS[1] and table[-1] == ROWS[1] and isinstance(table[0], Segment)
    assert table[0].end_reason == "completed"
    assert table[:1] == ROWS[:1] and table[::-1] == ROWS[::-1] and table[5:] == []
    assert table == ROWS and table == tuple(ROWS) and table != ROWS[:1]
    assert table.columns["start_day"] == [0.0, 4.0]
    assert list(table.columns) == list(Segment._fields)  # in the row's field order
    with pytest.raises(IndexError):
        table[2]
    assert len(table_of(LedgerEntry, [])) == 0 and list(table_of(LedgerEntry, [])) == []


def test_tables_are_equal_only_with_the_same_row_type_and_values():
    assert table_of(Segment, ROWS) == table_of(Segment, list(ROWS))
    assert table_of(Segment, ROWS) != table_of(Segment, ROWS[::-1])
    ledger = table_of(LedgerEntry, [("ost", 0.0, 1.0, 5.0)])
    assert ledger != table_of(Segment, ROWS)
    with pytest.raises(TypeError, match="cannot be hashed"):
        hash(ledger)


def test_a_table_refuses_columns_that_do_not_make_its_rows():
    with pytest.raises(ValueError, match="needs the columns"):
        Table(LedgerEntry, {"service": [], "start_day": [], "end_day": []})
    with pytest.raises(ValueError, match="differ in length"):
        Table(LedgerEntry, {"service": ["ost"], "start_day": [0.0], "end_day": [1.0],
                            "amount_gbp": []})


@pytest.mark.model
def test_a_runs_tables_pickle_and_make_the_same_frames_as_their_rows():
    rec = simulate(small({"run.years": 2}), 3, 0)
    assert len(rec.segments) > 50 and len(rec.ledger) > 50
    again = pickle.loads(pickle.dumps(rec))
    assert again == rec and again.segments == list(rec.segments)
    for table, row in ((rec.segments, Segment), (rec.ledger, LedgerEntry)):
        by_columns = pd.DataFrame(table.columns)
        by_rows = pd.DataFrame(list(table), columns=row._fields)
        assert by_columns.to_csv(index=False) == by_rows.to_csv(index=False)
        assert list(by_columns.dtypes) == list(by_rows.dtypes)
