"""Check mutmut mutants each in a Python process of its own.

mutmut 3 switches mutants inside processes forked after the code under test is imported, so a
mutant of a function that only runs at import (a table built when the module loads, as
`cpu/isa`'s `_table` and `_variant_names`) is never executed by `mutmut run` and shows as
survived. Here each mutant named gets a fresh process with `MUTANT_UNDER_TEST` set before
anything is imported, so the import itself runs it; the mutant is killed when the tests fail
(or time out).

    nice -n 10 mutmut run --max-children 2 'cpu.isa.*'        # first: makes mutants/
    python benchmarks/mutants_by_process.py 'cpu.isa.*' --tests tests/test_cpu_*.py

Prints one line per mutant checked, then the counts; `--json` writes them as JSON. Run from
the repository root, after `mutmut run` has made `mutants/` and recorded the results.
"""

from __future__ import annotations

import argparse
import fnmatch
import glob
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import tomllib


def mutant_results() -> dict[str, str]:
    """`mutmut results --all true` as {mutant name: status}."""
    out = subprocess.run(
        ["mutmut", "results", "--all", "true"], capture_output=True, text=True, check=True
    ).stdout
    found = {}
    for line in out.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep and name:
            found[name] = status
    return found


def default_tests() -> list[str]:
    """The test files mutmut runs (pyproject's `pytest_add_cli_args_test_selection`)."""
    config = tomllib.loads(Path("pyproject.toml").read_text())["tool"]["mutmut"]
    return list(config["pytest_add_cli_args_test_selection"])


def check(name: str, tests: list[str], timeout: float) -> str:
    """'killed', 'survived' or 'timeout' for one mutant run in a process of its own."""
    env = dict(os.environ, MUTANT_UNDER_TEST=name, PYTHONDONTWRITEBYTECODE="1")
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]
    try:
        done = subprocess.run(command, cwd="mutants", env=env, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout"
    return "survived" if done.returncode == 0 else "killed"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pattern", help="mutant names to check, as fnmatch: 'cpu.isa.*'")
    parser.add_argument(
        "--status",
        default="survived",
        help="check the mutants mutmut gave this status (default survived; 'any' for all)",
    )
    parser.add_argument("--tests", nargs="+", help="test files (default: mutmut's selection)")
    parser.add_argument("--workers", type=int, default=2, help="processes at once (default 2)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per mutant")
    parser.add_argument("--json", help="write {name: result} here")
    args = parser.parse_args(argv)
    if not Path("mutants").is_dir():
        parser.error("no mutants/ folder here: run `mutmut run` from the repository root first")
    tests = [f for t in (args.tests or default_tests()) for f in sorted(glob.glob(t)) or [t]]
    names = [
        name
        for name, status in sorted(mutant_results().items())
        if fnmatch.fnmatchcase(name, args.pattern) and args.status in ("any", status)
    ]
    if not names:
        print(f"no mutant matches {args.pattern!r} with status {args.status}", file=sys.stderr)
        return 1
    if check("none", tests, args.timeout) != "survived":  # no mutant: the tests must pass
        print("the tests fail in mutants/ with no mutant active; nothing checked", file=sys.stderr)
        return 1
    results: dict[str, str] = {}
    with ThreadPoolExecutor(args.workers) as pool:
        for name, result in zip(
            names, pool.map(lambda n: check(n, tests, args.timeout), names), strict=True
        ):
            results[name] = result
            print(f"{name}: {result}", flush=True)
    killed = sum(r != "survived" for r in results.values())
    print(f"{killed} of {len(results)} killed ({100 * killed / len(results):.1f} %)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
