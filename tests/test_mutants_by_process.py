"""benchmarks/mutants_by_process.py: mutmut mutants checked each in a process of its own."""

import importlib.util
import json
import subprocess
from pathlib import Path

_PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "mutants_by_process.py"
_SPEC = importlib.util.spec_from_file_location("mutants_by_process", _PATH)
mbp = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(mbp)

# a test that, like a table built at import, reads the mutant before anything runs
IMPORT_TIME_TEST = """
import os
TABLE = {"x.bad": 1, "x.timeout": 2}.get(os.environ.get("MUTANT_UNDER_TEST"), 0)

def test_table():
    if TABLE == 2:
        import time
        time.sleep(30)
    assert TABLE == 0
"""

RESULTS = """    x.bad: survived
    x.good: survived
    x.timeout: survived
    x.other: killed
    y.bad: survived
"""


def fake_repository(tmp_path, monkeypatch):
    (tmp_path / "mutants" / "tests").mkdir(parents=True)
    (tmp_path / "mutants" / "tests" / "test_table.py").write_text(IMPORT_TIME_TEST)
    monkeypatch.chdir(tmp_path)
    run = subprocess.run

    def fake_run(command, **kwargs):
        if command[:2] == ["mutmut", "results"]:
            return subprocess.CompletedProcess(command, 0, RESULTS, "")
        return run(command, **kwargs)

    monkeypatch.setattr(mbp.subprocess, "run", fake_run)


def test_each_mutant_is_run_in_a_fresh_process_and_counted(tmp_path, monkeypatch, capsys):
    fake_repository(tmp_path, monkeypatch)
    assert mbp.mutant_results()["x.other"] == "killed"
    out = tmp_path / "r.json"
    argv = ["x.*", "--tests", "tests/test_table.py", "--timeout", "8", "--json", str(out)]
    assert mbp.main(argv) == 0
    found = json.loads(out.read_text())
    assert found == {"x.bad": "killed", "x.good": "survived", "x.timeout": "timeout"}
    assert capsys.readouterr().out.endswith("2 of 3 killed (66.7 %)\n")


def test_no_match_or_failing_tests_check_nothing(tmp_path, monkeypatch, capsys):
    fake_repository(tmp_path, monkeypatch)
    assert mbp.main(["z.*", "--tests", "tests/test_table.py"]) == 1
    assert "no mutant matches 'z.*'" in capsys.readouterr().err
    (tmp_path / "mutants" / "tests" / "test_table.py").write_text("def test_x():\n    assert 0\n")
    assert mbp.main(["y.*", "--tests", "tests/test_table.py"]) == 1
    assert "the tests fail in mutants/ with no mutant active" in capsys.readouterr().err
