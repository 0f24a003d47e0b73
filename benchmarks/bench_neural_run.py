"""`run --neural`'s generation with and without the draft, on the shipped CPU model.

    nice -n 10 python benchmarks/bench_neural_run.py [--model cpu-small] [--rounds 3]

The program is the card's random 255-word one (``draw_program(random.Random(7), 255, 255)``
from `cpu.generate`, with `bytesim run`'s default registers). Its trace is generated free-running
as `run --neural` does, once step by step (16 byte-decoder steps per state, the baseline) and
once with ``draft=True`` (each state checked against the guess that it repeats the previous
one), the two alternating for ``--rounds`` rounds in one process so that both see the same
load. Prints the median seconds of each, their ratio, the byte-decoder passes of each, and
whether the two traces are the same bytes (they must be).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bytesim.checkpoint import load_model  # noqa: E402
from bytesim.neural_cpu import MAX_STATES, PROMPT_PATCHES, Trace, prompt_ids  # noqa: E402
from cpu.generate import draw_program  # noqa: E402
from cpu.program import load_program, trace  # noqa: E402


def card_program() -> bytes:
    """The instance file `bytesim run` makes of the card's 255-word program (its default
    registers)."""
    _, lines = draw_program(random.Random(7), 255, 255)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "program.asm"
        path.write_text("\n".join(lines) + "\n")
        return trace(load_program(path)).instance


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="cpu-small", help="model name or folder")
    parser.add_argument("--rounds", type=int, default=3, help="timed runs of each (default 3)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # as generate does for one sequence
    model = load_model(args.model)
    reference = Trace.from_instance(card_program())
    prompt = torch.from_numpy(prompt_ids(reference.memory, reference.states[0].tobytes()))
    passes = {False: 0, True: 0}
    forward = model.byte.forward
    counting: list[bool] = [False]

    def counted(*a, **k):
        passes[counting[0]] += 1
        return forward(*a, **k)

    model.byte.forward = counted
    seconds: dict[bool, list[float]] = {False: [], True: []}
    outputs = {}
    for _ in range(args.rounds):
        for draft in (False, True):
            counting[0] = draft
            passes[draft] = 0
            start = time.perf_counter()
            outputs[draft] = model.generate(
                [prompt],
                PROMPT_PATCHES + MAX_STATES,
                temperature=0.0,
                stop=lambda _i, patches: patches[:, 2] == 0,
                draft=draft,
            )[0]
            seconds[draft].append(time.perf_counter() - start)
    states = len(outputs[False]) // 16 - PROMPT_PATCHES
    same = torch.equal(outputs[False], outputs[True])
    base, fast = (statistics.median(seconds[d]) for d in (False, True))
    print(f"{args.model}: {states} states of the card's 255-word program, {args.rounds} rounds")
    print(f"step by step: {base:.2f} s, {passes[False]} byte-decoder passes")
    print(f"draft:        {fast:.2f} s, {passes[True]} byte-decoder passes")
    print(f"ratio: {base / fast:.2f}x; the same trace: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
