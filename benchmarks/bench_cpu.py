"""Instances/s of `gen-cpu-dataset` (both layouts) against an original-style generator.

The baseline is written the way the original bGPT generator works: one ``random.Random``,
an if/elif interpreter over Python lists, and one file per instance opened in append mode
for every recorded state. All generators run in this process, one after another, so the
ratios compare like with like on the same machine in the same run.

    nice -n 10 python benchmarks/bench_cpu.py            # prints a markdown table
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

MNEMONICS = (
    "HLT CLR INC DEC SHL SHR ROL ROR NOT PUSH POP LOADI SWAP ADD SUB MUL DIV AND OR XOR MOV"
).split()
COUNTS = {m: [0, 1] for m in MNEMONICS[1:9]}  # in opcode order, as the original's dict
COUNTS.update({"PUSH": [1], "POP": [1], "LOADI": [1], "SWAP": [1, 2]})
COUNTS.update({m: [1, 2, 3] for m in MNEMONICS[13:20]})
COUNTS["MOV"] = [2]
REGS = "ABCDEFGHIJ"


class BaselineCpu:
    """An original-style simulator: Python lists, an if/elif chain, per-state file appends."""

    def __init__(self, rng: random.Random):
        self.memory = [0] * 1024
        self.pc, self.ir = 0, [0, 0, 0, 0]
        self.acc = rng.randint(0, 255)
        self.regs = [rng.randint(0, 255) for _ in range(10)]

    def load(self, lines: list[str]) -> None:
        code = []
        for line in lines:
            name, *ops = line.split(" ")
            if name == "LOADI":
                word = [11, int(ops[0]), 0, 0]
            else:
                word = [MNEMONICS.index(name)] + [REGS.index(o) + 1 for o in ops]
                word += [0] * (4 - len(word))
            code += word
        self.memory = code + self.memory[len(code) :]

    def export(self) -> bytes:
        return bytes(self.memory + [self.pc, self.acc] + self.ir + self.regs)

    def execute(self, op: int, a: int, b: int, c: int) -> bool:  # noqa: C901 - on purpose
        r = self.regs
        if op == 0:
            return False
        if 1 <= op <= 8:
            x = self.acc if a == 0 else r[a - 1]
            if op == 1:
                x = 0
            elif op == 2:
                x = min(x + 1, 255)
            elif op == 3:
                x = max(x - 1, 0)
            elif op == 4:
                x = (x << 1) & 255
            elif op == 5:
                x = x >> 1
            elif op == 6:
                x = ((x << 1) & 255) | (x >> 7)
            elif op == 7:
                x = (x >> 1) | ((x << 7) & 255)
            else:
                x = 255 - x
            if a == 0:
                self.acc = x
            else:
                r[a - 1] = x
        elif op == 9:
            self.acc = r[a - 1]
        elif op == 10:
            r[a - 1] = self.acc
        elif op == 11:
            self.acc = a
        elif op == 12:
            if b == 0:
                self.acc, r[a - 1] = r[a - 1], self.acc
            else:
                r[a - 1], r[b - 1] = r[b - 1], r[a - 1]
        elif op == 20:
            r[a - 1] = r[b - 1]
        else:
            if b == 0:
                x, y = self.acc, r[a - 1]
            else:
                x, y = r[a - 1], r[b - 1]
            if op == 13:
                v = min(x + y, 255)
            elif op == 14:
                v = max(x - y, 0)
            elif op == 15:
                v = min(x * y, 255)
            elif op == 16:
                v = 255 if y == 0 else x // y
            elif op == 17:
                v = x & y
            elif op == 18:
                v = x | y
            else:
                v = x ^ y
            if b == 0:
                self.acc = v
            elif c == 0:
                r[a - 1] = v
            else:
                r[c - 1] = v
        return True

    def run(self, path: str) -> None:
        with open(path, "wb") as f:
            f.write(self.export())
        while True:
            self.ir = self.memory[self.pc * 4 : self.pc * 4 + 4]
            self.pc = min(self.pc + 1, 255)
            with open(path, "ab") as f:
                f.write(self.export()[1024:])
            if not self.execute(*self.ir):
                break


def baseline_program(rng: random.Random, n: int) -> list[str]:
    lines = []
    for _ in range(n - 1):
        name = rng.choice(list(COUNTS))
        if name == "LOADI":
            lines.append(f"LOADI {rng.randint(0, 255)}")
            continue
        count = rng.choice(COUNTS[name])
        lines.append(" ".join([name] + [rng.choice(list(REGS)) for _ in range(count)]))
    return lines + ["HLT"]


def baseline_generate(out: Path, train: int, test: int, seed: int) -> None:
    rng = random.Random(seed)
    for split, count in (("train", train), ("test", test)):
        (out / split).mkdir(parents=True, exist_ok=True)
        for _ in range(count):
            cpu = BaselineCpu(rng)
            lines = baseline_program(rng, rng.randint(1, 255))
            name = hashlib.md5("".join(lines).encode()).hexdigest()
            cpu.load(lines)
            cpu.run(str(out / split / f"{name}.bin"))


def create_files(folder: Path, count: int, seed: int) -> None:
    """The file system's share: create ``count`` files of a typical instance size (2.6 kB)."""
    folder.mkdir(parents=True)
    data = bytes(2600)
    for i in range(count):
        with open(folder / f"{seed}-{i:032x}.bin", "wb") as f:
            f.write(data)


def timed(work, *args) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process and its finished children)."""
    start, cpu = time.perf_counter(), os.times()
    work(*args)
    end = os.times()
    used = sum(end[:4]) - sum(cpu[:4])
    return time.perf_counter() - start, used


def main() -> None:
    from cpu.dataset import write_bgpt, write_shards

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--baseline", type=int, default=200, help="baseline instances per round")
    parser.add_argument("--bgpt", type=int, default=6000, help="bgpt instances per round")
    parser.add_argument("--shards", type=int, default=40000, help="shards instances per round")
    parser.add_argument("--workers", type=int, default=2, help="workers of the second shards run")
    parser.add_argument("--tmpfs", default="/dev/shm", help="a RAM file system ('' to skip)")
    args = parser.parse_args()
    disk = Path(tempfile.mkdtemp(prefix="bench-cpu-"))
    ram = Path(tempfile.mkdtemp(prefix="bench-cpu-", dir=args.tmpfs)) if args.tmpfs else None
    base, base_ram = "baseline (original-style)", "baseline (original-style), tmpfs"
    # label: (instances per round, work(folder, count, seed), root folder, baseline label)
    jobs = {
        base: (args.baseline, lambda d, n, s: baseline_generate(d, n, 0, s), disk, base),
        "--layout bgpt": (args.bgpt, lambda d, n, s: write_bgpt(d, n, 0, seed=s), disk, base),
        "--layout shards, 1 worker": (
            args.shards,
            lambda d, n, s: write_shards(d, n, 0, seed=s),
            disk,
            base,
        ),
        f"--layout shards, {args.workers} workers": (
            args.shards,
            lambda d, n, s: write_shards(d, n, 0, seed=s, workers=args.workers),
            disk,
            base,
        ),
        "file creation only (2.6 kB files)": (args.bgpt, create_files, disk, base),
    }
    if ram is not None:
        jobs[base_ram] = (*jobs[base][:2], ram, base_ram)
        jobs["--layout bgpt, tmpfs"] = (*jobs["--layout bgpt"][:2], ram, base_ram)
    seconds = {label: [] for label in jobs}
    cpu_seconds = {label: [] for label in jobs}
    try:
        for r in range(args.rounds):  # interleaved, so that load changes hit every generator
            for i, (label, (count, work, root, _)) in enumerate(jobs.items()):
                wall, cpu = timed(work, root / f"{r}-{i}", count, r)
                seconds[label].append(wall)
                cpu_seconds[label].append(cpu)
                print(f"  round {r}: {label}: {count / wall:.0f}/s", file=sys.stderr)
    finally:  # deleting in between would slow the next generator down
        shutil.rmtree(disk, ignore_errors=True)
        if ram is not None:
            shutil.rmtree(ram, ignore_errors=True)
    print(f"{args.rounds} interleaved rounds, {os.cpu_count()} cores, programs of 1..255 words.")
    print("ratio: instances/s over the baseline's on the same file system in the same round")
    print("(median, min-max); CPU ratio: the same with CPU seconds (user + system, workers")
    print("included).\n")
    print("| generator | instances/round | instances/s | ratio | CPU ratio |")
    print("|---|---:|---:|---:|---:|")
    for label, (count, _, _, against) in jobs.items():
        cells = []
        for times in (seconds, cpu_seconds):
            base_rates = [jobs[against][0] / t for t in times[against]]
            ratios = sorted(count / t / b for t, b in zip(times[label], base_rates, strict=True))
            cells.append(f"{statistics.median(ratios):.1f}x ({ratios[0]:.1f}-{ratios[-1]:.1f})")
        rate = statistics.median(count / t for t in seconds[label])
        print(f"| {label} | {count} | {rate:.0f} | {cells[0]} | {cells[1]} |")


if __name__ == "__main__":
    main()
