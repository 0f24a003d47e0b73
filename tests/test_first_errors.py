"""benchmarks/first_errors.py: the first fault of a conversion output, named by its kind."""

import importlib.util
from pathlib import Path

import pytest

from convert import abc_to_midi

_PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "first_errors.py"
_SPEC = importlib.util.spec_from_file_location("first_errors", _PATH)
first_errors = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(first_errors)

REF = [(0.0, 67, 1.0), (1.0, 69, 0.5), (2.0, 71, 0.5)]  # a rest of 0.5 before the B


@pytest.mark.parametrize(
    ("output", "kind"),
    [
        (REF, "exact"),
        ([(0.0, 67, 1.0), (1.0, 69, 0.5), (1.5, 71, 0.5)], "rest left out"),
        ([(0.0, 67, 1.0), (1.5, 69, 0.5)], "rest added"),
        ([(0.0, 67, 1.0), (1.0, 69, 1.0)], "duration"),
        ([(0.0, 66, 1.0)], "semitone"),
        ([(0.0, 69, 1.0)], "whole tone"),
        ([(0.0, 72, 1.0)], "pitch"),
        ([(0.0, 66, 0.5)], "other"),
        (REF[:2], "notes missing"),
        ([*REF, (3.0, 60, 1.0)], "notes added"),
    ],
)
def test_each_kind_of_first_fault(output, kind):
    assert first_errors.first_fault(REF, output) == kind


def test_the_table_counts_the_outputs_of_a_folder(tmp_path, capsys):
    data, outputs = tmp_path / "data", tmp_path / "mid-to-abc"
    data.mkdir()
    outputs.mkdir()
    tune = "X:1\nL:1/8\nK:G\nG2 A z B|\n"
    (data / "a.mid").write_bytes(abc_to_midi(tune))
    (data / "b.mid").write_bytes(abc_to_midi(tune))
    (data / "c.mid").write_bytes(abc_to_midi(tune))
    (outputs / "a.abc").write_text(tune)
    (outputs / "b.abc").write_text("X:1\nL:1/8\nK:G\nG2 A B|\n")  # the rest left out
    (outputs / "c.abc").write_text("X:1\nK:G\n")  # no notes: the converter cannot play it
    assert first_errors.main([str(outputs), str(data), "--examples", "1"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0] == "| first fault (3 files) | files | first of them |"
    assert sorted(table[2:5]) == [
        "| exact | 1 | a |",
        "| rest left out | 1 | b |",
        "| unplayable | 1 | c |",
    ]
    # 3 notes each: a right throughout, b right for 2 then a fault, c a fault at its first
    assert table[5:7] == [
        "",
        "first faults per reference note read: 2 in 7, p = 28.57 %; the reference's notes right"
        " before the first fault: 55.6 % (at p: 74.1 %); 90 % needs p = 10.358 %, 99 % p ="
        " 1.0034 %",  # share = 1 - p + p^2 / 3 for 3 notes
    ]


def test_fault_rate_counts_the_notes_read_up_to_each_first_fault():
    assert first_errors.fault_rate([(10, 10), (10, 4)]) == 1 / 15
    assert first_errors.fault_rate([(10, 0)]) == 1.0
    assert first_errors.fault_rate([(10, 10)]) == 0.0
    assert first_errors.fault_rate([]) == 0.0


def test_expected_share_and_the_rate_that_gives_a_share():
    assert first_errors.expected_share(0.0, [5]) == 1.0
    assert first_errors.expected_share(1.0, [5]) == 0.0
    assert first_errors.expected_share(0.5, [2]) == 0.75  # 1 note, or 2 with chance 1/2
    assert first_errors.expected_share(0.5, [1, 2]) == pytest.approx(2.5 / 3)
    assert first_errors.rate_for_share(0.75, [2]) == pytest.approx(0.5)
    longer = first_errors.rate_for_share(0.9, [400])
    assert longer < first_errors.rate_for_share(0.9, [40]) and longer == pytest.approx(
        first_errors.rate_for_share(0.9, [400, 400])
    )
