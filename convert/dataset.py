"""The paired ABC -> MIDI conversion dataset (bGPT layout, SPEC section 2.2).

``generate_abc_dataset`` converts every tune of the sources and writes ``OUT/train`` and
``OUT/test`` with pairs ``NAME.abc`` + ``NAME.mid``, plus ``OUT/report.json`` listing every
tune that failed (with its file, X number, line and error) and the counts. Names are
``<folder>_<file stem>-<X>`` (``-2``, ``-3`` … appended when a name repeats). The split is
a seeded shuffle of the sorted names, so the same sources and seed give the same files,
byte for byte, whatever the number of workers.
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from convert import write_file_atomic
from convert.abc_parser import AbcError, decode_abc, parse_abc
from convert.events import tune_to_score
from convert.midi import score_to_midi
from cpu.workers import map_in_processes

MUSIC21 = "music21"


@dataclass
class DatasetReport:
    """What generate_abc_dataset wrote and what it could not convert."""

    train: int = 0
    test: int = 0
    failures: list[dict] = field(default_factory=list)  # source, x, line, error

    def to_json(self) -> dict:
        return {
            "train": self.train,
            "test": self.test,
            "failed": len(self.failures),
            "failures": self.failures,
        }


def music21_corpus() -> Path:
    """The folder of music21's bundled corpus (found without importing music21)."""
    spec = importlib.util.find_spec("music21")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("music21 is not installed; pass ABC folders as sources")
    return Path(spec.origin).parent / "corpus"


def find_abc_files(sources: Iterable[str | os.PathLike]) -> list[Path]:
    """Every .abc file of the sources (files or folders, searched recursively), sorted."""
    files: set[Path] = set()
    for source in sources:
        path = music21_corpus() if str(source) == MUSIC21 else Path(source)
        if path.is_dir():
            files.update(p for p in path.rglob("*.abc") if p.is_file())
        elif path.is_file():
            files.add(path)
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")
    return sorted(files)


def convert_file(path: Path) -> list[tuple[str, int, int, str, bytes | None, str | None]]:
    """All tunes of one file: (name stem, X, line, tune text, MIDI or None, error or None)."""
    stem = _safe(f"{path.parent.name}_{path.stem}")
    try:
        text = decode_abc(path.read_bytes(), str(path))
    except (AbcError, OSError) as exc:
        return [(stem, 0, 0, "", None, str(exc))]
    parsed = parse_abc(text)
    out = [(stem, 0, error.line, "", None, str(error)) for error in parsed.errors]
    for tune in parsed.tunes:
        try:
            midi = score_to_midi(tune_to_score(tune))
            out.append((stem, tune.x, tune.line, tune.text, midi, None))
        except AbcError as exc:
            out.append((stem, tune.x, tune.line, tune.text, None, str(exc)))
    return out


def generate_abc_dataset(
    out_dir: str | os.PathLike,
    sources: Iterable[str | os.PathLike] = (MUSIC21,),
    test_fraction: float = 0.01,
    seed: int = 0,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> DatasetReport:
    """Convert all tunes of ``sources`` into ``out_dir/{train,test}`` pairs; see module doc.

    ``progress(done_files, total_files)`` is called after each source file.
    """
    if not 0.0 <= test_fraction <= 1.0:
        raise ValueError(f"test fraction {test_fraction} is not between 0 and 1")
    files = find_abc_files(sources)
    results = _convert_all(files, workers, progress)
    report = DatasetReport()
    pairs: dict[str, tuple[str, bytes]] = {}
    for path, tunes in zip(files, results, strict=True):
        for stem, x, line, text, midi, error in tunes:
            if midi is None:
                report.failures.append({"source": str(path), "x": x, "line": line, "error": error})
                continue
            name = _unique(f"{stem}-{x}", pairs)
            pairs[name] = (text, midi)
    names = sorted(pairs)
    random.Random(seed).shuffle(names)
    test_count = round(len(names) * test_fraction)
    out = Path(out_dir)
    for split, chosen in (("test", names[:test_count]), ("train", names[test_count:])):
        folder = out / split
        folder.mkdir(parents=True, exist_ok=True)
        for name in chosen:
            text, midi = pairs[name]
            write_file_atomic(folder / f"{name}.abc", text.encode("utf-8"))
            write_file_atomic(folder / f"{name}.mid", midi)
    report.test, report.train = test_count, len(names) - test_count
    report_json = json.dumps(report.to_json(), indent=1, sort_keys=True) + "\n"
    write_file_atomic(out / "report.json", report_json.encode("utf-8"))
    return report


def _convert_all(files: list[Path], workers: int, progress) -> list[list]:
    if workers <= 1:
        results = []
        for done, path in enumerate(files, 1):
            results.append(convert_file(path))
            if progress:
                progress(done, len(files))
        return results
    by_index: list = [None] * len(files)
    converted = map_in_processes(convert_file, files, workers)
    try:  # (not concurrent.futures: see cpu.workers for why)
        for done, (index, result) in enumerate(converted, 1):
            by_index[index] = result
            if progress:
                progress(done, len(files))
    finally:
        converted.close()  # stops the workers now if anything above failed
    return by_index


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def _unique(name: str, taken: dict) -> str:
    if name not in taken:
        return name
    number = 2
    while f"{name}-{number}" in taken:
        number += 1
    return f"{name}-{number}"
