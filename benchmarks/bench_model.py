"""bytesim's BGPT against the original bGPT's way (transformers GPT-2 modules, one-hot patch
embedding, eager attention, no cache), same configuration, same machine, same run.

    nice -n 10 python benchmarks/bench_model.py            # ~3 minutes on 2 cores
    nice -n 10 python benchmarks/bench_model.py --quick    # fewer steps, a smoke test

Measures, at hidden 256 with 4 patch and 2 byte layers (the `small` preset):
  - training bytes/s on CPU-trace-like sequences (322 patches, batch 8), both models starting
    from the same weights on the same batches, steps alternating in one process (so both see
    the same machine load), with their loss per step side by side;
  - peak training memory: growth of the process's peak RSS over two steps, each model in its
    own process;
  - generating a 256-state CPU trace (prompt: header + 1024 bytes of memory + state 0, then
    256 patches greedy). The baseline works as the original's generate: the patch decoder from
    scratch over the whole sequence once per patch, the byte decoder from scratch for every
    byte. Its time grows with the position, so it is timed on 9 evenly spaced patches and summed
    over all 256 by linear interpolation.
Prints the ratios and writes benchmarks/model_results.md.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the original architecture, tests/reference_bgpt.py

from reference_bgpt import reference_model  # noqa: E402

from bytesim.import_bgpt import convert_state  # noqa: E402
from bytesim.model import BGPT, PRESETS  # noqa: E402

CONFIG = PRESETS["small"].with_overrides(patch_length=322)
PROMPT_PATCHES = 66  # header + 64 patches of memory + state 0
TRACE_PATCHES = 256


def trace_like(batch: int, seed: int) -> torch.Tensor:
    """Sequences shaped like CPU instances: header, 1024 random bytes, 256 changing states."""
    g = torch.Generator().manual_seed(seed)
    header = torch.tensor([98, 105, 110] + [256] * 13)
    out = []
    for _ in range(batch):
        memory = torch.randint(0, 256, (1024,), generator=g)
        state = torch.randint(0, 256, (16,), generator=g)
        states = []
        for k in range(255):
            state = state.clone()
            state[0] = min(k + 1, 255)
            state[int(torch.randint(2, 16, (1,), generator=g))] = int(
                torch.randint(0, 256, (1,), generator=g)
            )
            states.append(state)
        out.append(torch.cat([header, memory, *states, torch.full((16,), 256)]))
    return torch.stack(out)  # (batch, 322 * 16)


def models(seed: int = 0):
    torch.manual_seed(seed)
    ref = reference_model(CONFIG)
    ours = BGPT(CONFIG)
    ours.load_state_dict(convert_state(ref.state_dict()))  # the same starting point
    return ref, ours


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Trainer:
    def __init__(self, model, precision: str):
        self.model, self.precision = model.train(), precision
        self.opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
        self.losses: list[float] = []
        self.times: list[float] = []

    def step(self, ids: torch.Tensor) -> None:
        t = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.precision == "bf16"):
            _, loss = self.model(ids)
        loss.backward()
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        self.times.append(time.perf_counter() - t)
        self.losses.append(float(loss))


def part_train_speed(steps: int, batch: int) -> dict:
    """Both models in one process, steps alternating, so both see the same machine load."""
    ref, ours = models()
    base, mine = Trainer(ref, "fp32"), Trainer(ours, "bf16")
    for step in range(steps + 1):  # step 0 warms up and is not timed
        ids = trace_like(batch, seed=step)
        base.step(ids)
        mine.step(ids)
    nbytes = batch * 322 * 16
    return {
        which: {
            "bytes_per_s": nbytes * steps / sum(t.times[1:]),
            "losses": t.losses,
            "precision": t.precision,
        }
        for which, t in (("base", base), ("ours", mine))
    }


def part_train_memory(which: str, batch: int) -> dict:
    """Peak RSS growth over two training steps, one model per process."""
    ref, ours = models()
    trainer = Trainer(ref, "fp32") if which == "base" else Trainer(ours, "bf16")
    del ref, ours
    data = [trace_like(batch, seed=s) for s in range(2)]
    before = peak_rss_mb()
    for ids in data:
        trainer.step(ids)
    return {"peak_growth_mb": peak_rss_mb() - before}


@torch.no_grad()
def baseline_patch(ref, seq: torch.Tensor) -> torch.Tensor:
    """One patch the original way: the patch decoder from scratch over the whole sequence,
    then the byte decoder from scratch for every byte."""
    feature = ref.patch_level_decoder(seq[None])[:, -1]
    patch = seq.new_empty(0)
    for i in range(16):
        logits = ref.byte_level_decoder(feature, patch[None])[:, i]
        patch = torch.cat((patch, logits.argmax(-1)))
    return patch


def part_generate(samples: int) -> dict:
    ref, ours = models()
    ref.eval()
    ours.eval()
    prompt = trace_like(1, seed=99)[0, : PROMPT_PATCHES * 16]
    total = PROMPT_PATCHES + TRACE_PATCHES
    t = time.perf_counter()
    out = ours.generate([prompt], total, stop=None)[0]
    ours_s = time.perf_counter() - t
    produced = len(out) // 16 - PROMPT_PATCHES
    # baseline: time one patch at evenly spaced positions, interpolate over all positions
    positions = torch.linspace(PROMPT_PATCHES, total - 1, samples).round().long().tolist()
    seq = out  # the baseline continues the same sequence at each sampled position
    timed = []
    for p in positions:
        t = time.perf_counter()
        baseline_patch(ref, seq[: p * 16])
        timed.append(time.perf_counter() - t)
    per_patch = [
        _interp(positions, timed, p) for p in range(PROMPT_PATCHES, PROMPT_PATCHES + produced)
    ]
    base_s = sum(per_patch)
    return {
        "patches": produced,
        "ours_s": ours_s,
        "ours_bytes_per_s": produced * 16 / ours_s,
        "base_s_estimated": base_s,
        "base_bytes_per_s": produced * 16 / base_s,
        "base_sampled_patches": len(positions),
    }


def _interp(xs, ys, x):
    points = list(zip(xs, ys, strict=True))
    for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
        if x0 <= x <= x1:
            return y0 + (y1 - y0) * (x - x0) / max(1, x1 - x0)
    return ys[-1]


def run_part(args: list[str]) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, *args], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--part", choices=["train-speed", "memory-base", "memory-ours", "generate"])
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--samples", type=int, default=9)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.part:
        if args.part == "generate":
            result = part_generate(args.samples)
        elif args.part == "train-speed":
            result = part_train_speed(args.steps, args.batch)
        else:
            result = part_train_memory(args.part.split("-")[1], args.batch)
        print(json.dumps(result))
        return
    if args.quick:
        args.steps, args.batch, args.samples = 2, 2, 3
    common = [
        "--steps",
        str(args.steps),
        "--batch",
        str(args.batch),
        "--threads",
        str(args.threads),
    ]
    speed = run_part(["--part", "train-speed", *common])
    base = {**speed["base"], **run_part(["--part", "memory-base", *common])}
    ours = {**speed["ours"], **run_part(["--part", "memory-ours", *common])}
    gen = run_part(
        ["--part", "generate", "--samples", str(args.samples), "--threads", str(args.threads)]
    )
    report(args, base, ours, gen)


def report(args, base, ours, gen) -> None:
    train_ratio = ours["bytes_per_s"] / base["bytes_per_s"]
    mem_ratio = ours["peak_growth_mb"] / base["peak_growth_mb"]
    gen_ratio = gen["ours_bytes_per_s"] / gen["base_bytes_per_s"]
    rows = [
        (
            "training bytes/s",
            f"{base['bytes_per_s']:.0f}",
            f"{ours['bytes_per_s']:.0f}",
            f"{train_ratio:.2f}x",
            ">= 3x",
        ),
        (
            "peak training memory growth (MB)",
            f"{base['peak_growth_mb']:.0f}",
            f"{ours['peak_growth_mb']:.0f}",
            f"{mem_ratio:.2f}x",
            "<= 0.7x",
        ),
        (
            "256-state trace generation bytes/s",
            f"{gen['base_bytes_per_s']:.1f}",
            f"{gen['ours_bytes_per_s']:.0f}",
            f"{gen_ratio:.1f}x",
            ">= 20x",
        ),
    ]
    losses = " | ".join(
        f"{i}: {b:.4f} / {o:.4f}"
        for i, (b, o) in enumerate(zip(base["losses"], ours["losses"], strict=True))
    )
    lines = [
        "# Model benchmark (latest run)",
        "",
        f"`nice -n 10 python benchmarks/bench_model.py{' --quick' if args.quick else ''}` — "
        f"hidden 256, 4 patch + 2 byte layers, 4 heads; training batch {args.batch} x 322 patches, "
        f"{args.steps} timed steps (alternating) after 1 warm-up; {args.threads} threads; "
        f"torch {torch.__version__}. Baseline: the original's way ({base['precision']}); "
        f"bytesim: {ours['precision']} autocast, same initial weights and batches.",
        "",
        "| measure | original-style | bytesim | ratio | target |",
        "|---|---|---|---|---|",
        *[f"| {' | '.join(r)} |" for r in rows],
        "",
        f"Loss per step (nats, original-style / bytesim): {losses}",
        "",
        f"Generation: {gen['patches']} patches after a {PROMPT_PATCHES}-patch prompt; bytesim "
        f"{gen['ours_s']:.1f} s measured; the baseline {gen['base_s_estimated']:.0f} s estimated "
        f"from {gen['base_sampled_patches']} timed patches (linear in position).",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.quick:
        (ROOT / "benchmarks" / "model_results.md").write_text(text)


if __name__ == "__main__":
    main()
