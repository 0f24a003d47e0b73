"""ABC -> MIDI speed (bytesim vs abc2midi vs music21, same tunes, same run) and agreement.

    nice -n 19 python benchmarks/bench_convert.py                # speed, 300-tune sample
    nice -n 19 python benchmarks/bench_convert.py --agreement    # + whole corpus vs abc2midi

Speed (best of 3 runs for bytesim, of 5 for abc2midi's whole-file mode, which takes only
a fraction of a second): tunes/s of bytesim in one process (parse + convert + MIDI bytes),
abc2midi with a process per tune and in whole-file mode (one process for all tunes), and
music21 (parse + MIDI file) on a smaller sample, each as a ratio to bytesim. Agreement:
every tune of music21's corpus and of its Irish subset (O'Neill 1850 + Ryan's Mammoth)
compared note for note with abc2midi (SPEC section 3.4). Prints a markdown table; --write
stores it in benchmarks/convert_results.md.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from convert import AbcError, parse_abc  # noqa: E402
from convert.compare import compare_tune_with_abc2midi  # noqa: E402
from convert.dataset import find_abc_files, music21_corpus  # noqa: E402
from convert.events import tune_to_score  # noqa: E402
from convert.midi import score_to_midi  # noqa: E402

IRISH = ("oneills1850", "ryansMammoth")


def corpus_tunes() -> list[tuple[str, object]]:
    """(folder, tune) for every tune of music21's corpus, in file order."""
    out = []
    for path in find_abc_files([music21_corpus()]):
        for tune in parse_abc(path.read_text(encoding="utf-8")).tunes:
            out.append((path.parent.name, tune))
    return out


def best_rate(count: int, run, repeats: int) -> float:
    """Items per second of the fastest of ``repeats`` runs (short runs are noisy)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return count / best


def time_bytesim(tunes) -> float:
    def run() -> None:
        for tune in tunes:
            try:
                score_to_midi(tune_to_score(parse_abc(tune.text).tunes[0]))
            except AbcError:
                pass

    return best_rate(len(tunes), run, repeats=3)


def time_abc2midi_per_tune(tunes, folder: Path) -> float:
    paths = []
    for index, tune in enumerate(tunes):
        path = folder / f"t{index}.abc"
        path.write_text(tune.text, encoding="utf-8")
        paths.append(path)
    start = time.perf_counter()
    for path in paths:
        subprocess.run(
            ["abc2midi", str(path), "-o", str(path.with_suffix(".mid")), "-silent"],
            capture_output=True,
            check=False,
        )
    return len(tunes) / (time.perf_counter() - start)


def time_abc2midi_whole_file(tunes, folder: Path) -> float:
    whole = folder / "all.abc"
    texts = [f"X:{i + 1}\n" + t.text.split("\n", 1)[1] for i, t in enumerate(tunes)]
    whole.write_text("\n".join(texts), encoding="utf-8")
    command = ["abc2midi", str(whole), "-silent"]
    run = lambda: subprocess.run(command, cwd=folder, capture_output=True, check=False)  # noqa: E731
    return best_rate(len(tunes), run, repeats=5)


def time_music21(tunes, folder: Path) -> tuple[float, int]:
    import music21  # imported here: slow, and only needed for this row

    failed = 0
    start = time.perf_counter()
    for index, tune in enumerate(tunes):
        try:
            score = music21.converter.parse(tune.text, format="abc")
            score.write("midi", fp=str(folder / f"m{index}.mid"))
        except Exception:  # music21 raises many kinds; a failure is counted, not fatal
            failed += 1
    return len(tunes) / (time.perf_counter() - start), failed


def agreement(items, workers: int) -> Counter:
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return Counter(pool.map(compare_tune_with_abc2midi, items, chunksize=32))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=300, help="tunes for the speed rows")
    parser.add_argument("--music21-sample", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--agreement", action="store_true", help="compare the whole corpus")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--write", action="store_true", help="write convert_results.md")
    args = parser.parse_args()

    everything = corpus_tunes()
    rng = random.Random(args.seed)
    sample = [tune for _, tune in rng.sample(everything, args.sample)]
    lines = [
        f"Sample: {args.sample} tunes drawn with seed {args.seed} from music21's corpus "
        f"({len(everything)} tunes); music21 on the first {args.music21_sample}.",
        "",
        "| converter | tunes/s | bytesim speed ÷ this |",
        "|---|---:|---:|",
    ]
    with tempfile.TemporaryDirectory() as folder:
        ours = time_bytesim(sample)
        rows = [("bytesim (one process)", ours)]
        rows.append(("abc2midi, a process per tune", time_abc2midi_per_tune(sample, Path(folder))))
        rows.append(("abc2midi, whole file", time_abc2midi_whole_file(sample, Path(folder))))
        m21, m21_failed = time_music21(sample[: args.music21_sample], Path(folder))
        rows.append((f"music21 ({m21_failed} of {args.music21_sample} failed)", m21))
    for name, rate in rows:
        lines.append(f"| {name} | {rate:,.0f} | {ours / rate:.1f}x |")

    if args.agreement:
        lines += [
            "",
            "| tunes | agree | differ | bytesim fails | abc2midi fails | both fail | agreement |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        irish = [t for folder, t in everything if folder in IRISH]
        subsets = [("whole corpus", [t for _, t in everything]), ("Irish subset", irish)]
        for name, tunes in subsets:
            counts = agreement(tunes, args.workers)
            share = counts["agree"] / len(tunes)
            lines.append(
                f"| {name} ({len(tunes)}) | {counts['agree']} | {counts['differ']} | "
                f"{counts['ours_failed']} | {counts['abc2midi_failed']} | "
                f"{counts['both_failed']} | {share:.2%} |"
            )
    table = "\n".join(lines)
    print(table)
    if args.write:
        command = "nice -n 19 python benchmarks/bench_convert.py" + (
            " --agreement" if args.agreement else ""
        )
        header = (
            f"# ABC -> MIDI benchmark\n\nMeasured with `{command} --write` on {os.uname().nodename}"
        )
        Path(__file__).with_name("convert_results.md").write_text(
            f"{header}, {time.strftime('%Y-%m-%d')}.\n\n{table}\n", encoding="utf-8"
        )


if __name__ == "__main__":
    main()
