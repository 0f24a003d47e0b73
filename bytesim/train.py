"""Training: AdamW, warm-up + cosine decay, clipping, periodic evaluation, exact resume, DDP.

Everything random is a pure function of (seed, step, micro-batch, rank): the examples of a
step, their windows and the dropout masks (torch's generator is reseeded every step). The
learning rate is a pure function of the step. So a checkpoint only needs the weights, the
AdamW moments and the step, and a resumed run equals the uninterrupted one bit for bit (on CPU).

A run directory:
    latest                 name of the newest checkpoint folder (written last, atomically)
    ckpt-000500/           config.json, model.safetensors, optimizer.safetensors, trainer.json
    metrics.jsonl          one JSON object per logged step / evaluation
    loss.png               the loss curve (train and eval bits per byte)
    train.json             the training settings of the first run
Under torchrun (WORLD_SIZE > 1) it runs DistributedDataParallel on the gloo backend (nccl on
GPUs); only rank 0 writes.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from safetensors.torch import load_file
from torch import nn

from bytesim import checkpoint as ckpt
from bytesim.data import (
    DataError,
    Example,
    FileSource,
    collate,
    epoch_index,
    fit,
    generated_source,
    is_generated,
)
from bytesim.evaluate import LN2, autocast_for, classification_accuracy, evaluate, patch_mask_for
from bytesim.model import BGPT, PRESETS, ModelConfig
from cpu.files import replacing, write_atomic

EVAL_SEED_OFFSET = 1_000_003  # generated eval examples come from a stream the training never uses


class TrainError(ValueError):
    """Bad training settings or data: one clear line."""


@dataclass
class TrainConfig:
    out: str  # the run directory
    data: list[str]  # files, folders, tar shards or gen:NAME?key=val
    eval_data: list[str] = field(default_factory=list)  # default: held out / fixed generated set
    preset: str = "small"
    overrides: dict = field(default_factory=dict)  # ModelConfig fields, e.g. {"prev_patch": "add"}
    init: str | None = None  # start from this model (directory or shipped name) instead
    conversion: str | None = None  # "abc->mid" or "abc&mid"
    task: str = "generate"  # "generate" | "classify"
    loss_on: str = "all"  # "all" | "target"
    changed_weight: float = 1.0  # loss weight of target bytes that differ from the patch before
    steps: int | None = None  # optimizer steps (default: from epochs, else 1000)
    epochs: float | None = None
    batch_size: int = 8  # examples per micro-batch per process
    grad_accum: int = 1
    lr: float = 1e-3
    min_lr: float = 1e-4  # the cosine decays to this
    warmup: int = 100  # steps of linear warm-up
    weight_decay: float = 0.01
    clip: float = 1.0
    eval_every: int = 200
    eval_examples: int = 64
    save_every: int = 500
    log_every: int = 10
    seed: int = 0
    precision: str = "auto"  # "auto" | "fp32" | "bf16"
    threads: int | None = None
    max_minutes: float | None = None  # stop cleanly (with a checkpoint) after this long
    stop_after: int | None = None  # stop cleanly after this many steps of this run
    device: str = "auto"


def lr_at(step: int, cfg: TrainConfig, total: int) -> float:
    """Linear warm-up to cfg.lr over cfg.warmup steps, then cosine down to cfg.min_lr."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    progress = min(1.0, (step - cfg.warmup) / max(1, total - cfg.warmup))
    return cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * progress))


# ----------------------------------------------------------------------------- data


class Stream:
    """The examples of every (step, micro-batch, rank), reproducible from the seed alone."""

    def __init__(self, specs: list[str], cfg: TrainConfig, labels=None, layout: str = "paper"):
        gen = [s for s in specs if is_generated(s)]
        files = [s for s in specs if not is_generated(s)]
        if gen and files:
            raise TrainError("mix of gen: sources and files: use one kind per run")
        if len(gen) > 1:
            raise TrainError("one gen: source per run")
        if gen and cfg.loss_on != "all":
            raise TrainError(
                "--loss-on applies to file data; a gen: source sets its own loss mask "
                "(through its options, e.g. gen:NAME?key=value)"
            )
        self.generated = generated_source(gen[0]) if gen else None
        if hasattr(self.generated, "with_layout"):  # sources of files the layout cuts anew
            self.generated = self.generated.with_layout(layout)
        self.files = None
        if files:
            self.files = FileSource(
                files, cfg.conversion, cfg.loss_on, cfg.task == "classify", labels, layout
            )
        self.labels = self.files.labels if self.files else []

    def __len__(self) -> int:
        return len(self.files) if self.files else 0

    def draw(self, n: int, step: int, position: int, rng, seed: int, indices=None):
        """n examples for a step: fresh samples, or records `position`.. of the epoch stream."""
        if self.generated is not None:
            return [self.generated.sample(rng, step) for _ in range(n)]
        order = indices if indices is not None else range(len(self.files))
        return [
            self.files.example(order[epoch_index(len(order), position + j, seed)]) for j in range(n)
        ]


def _split_eval(stream: Stream, cfg: TrainConfig):
    """Hold out up to 5 % (at most eval_examples) of a file dataset when no eval data is given."""
    n = len(stream)
    order = np.random.default_rng([cfg.seed, 7]).permutation(n)
    held = min(cfg.eval_examples, n // 20) if n >= 20 else 0
    return sorted(order[held:].tolist()), sorted(order[:held].tolist())


def _eval_examples(cfg, stream, eval_stream, held, total) -> list[Example]:
    """The fixed evaluation set; generated ones are drawn as at the last step (`total`), the
    end of any curriculum a source keys on the step."""
    if eval_stream is not None:
        src = eval_stream
    else:
        src = stream
    if src.generated is not None:
        rng = np.random.default_rng([cfg.seed, EVAL_SEED_OFFSET])
        return [src.generated.sample(rng, total) for _ in range(cfg.eval_examples)]
    if eval_stream is not None:
        return [src.files.example(i) for i in range(min(len(src), cfg.eval_examples))]
    return [src.files.example(i) for i in held]


# ----------------------------------------------------------------------------- checkpoints


def save_checkpoint(run: Path, model: BGPT, opt, step: int, cfg: TrainConfig, extra: dict):
    """Write ckpt-<step>/ completely, then point `latest` at it, then drop older folders.

    The folder is written as .ckpt-<step>.tmp/ and renamed, so `latest` only ever names a
    complete checkpoint; a write that fails or is interrupted (a second Ctrl-C) removes its
    temporary folder, and one left by a killed process goes at the next save."""
    name = f"ckpt-{step:06d}"
    tmp = run / f".{name}.tmp"
    for stale in run.glob(".ckpt-*.tmp"):
        shutil.rmtree(stale, ignore_errors=True)
    extra_config = {"labels": model.labels}
    if getattr(model, "label_counts", None):
        extra_config["label_counts"] = model.label_counts  # for the majority-class baseline
    try:
        ckpt.save_model(model, tmp, extra_config)
        tensors, meta = optimizer_tensors(opt)
        ckpt.atomic_save_tensors(tmp / "optimizer.safetensors", tensors)
        ckpt.atomic_write_json(tmp / "trainer.json", {"step": step, "optimizer": meta, **extra})
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    final = run / name
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    write_atomic(run / ckpt.LATEST, (name + "\n").encode())
    for old in run.glob("ckpt-*"):
        if old.name != name:
            shutil.rmtree(old, ignore_errors=True)


def optimizer_tensors(opt: torch.optim.Optimizer):
    state = opt.state_dict()
    tensors = {}
    for idx, s in state["state"].items():
        for k, v in s.items():
            tensors[f"{idx}.{k}"] = v if torch.is_tensor(v) else torch.tensor(v)
    return tensors, {"param_groups": state["param_groups"]}


def load_optimizer(opt: torch.optim.Optimizer, directory: Path, meta: dict) -> None:
    tensors = load_file(directory / "optimizer.safetensors")
    state: dict[int, dict] = {}
    for key, v in tensors.items():
        idx, name = key.split(".", 1)
        state.setdefault(int(idx), {})[name] = v
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


# ----------------------------------------------------------------------------- training


class Objective(nn.Module):
    """The loss of one micro-batch; wraps the model so DDP sees a single forward."""

    def __init__(self, model: BGPT, task: str, changed_weight: float = 1.0):
        super().__init__()
        self.model, self.task, self.changed_weight = model, task, changed_weight

    def forward(self, ids, mask, labels, patch_mask):
        if self.task == "classify":
            return self.model.classify(ids, labels, patch_mask)[1]
        return self.model(ids, mask, self.changed_weight)[1]


def _setup_distributed(device: str) -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    return (dist.get_rank(), world) if world > 1 else (0, 1)


def _precision(cfg: TrainConfig, device: str) -> str:
    if cfg.precision != "auto":
        if cfg.precision not in ("fp32", "bf16"):
            raise TrainError(f"precision must be auto, fp32 or bf16, not {cfg.precision!r}")
        return cfg.precision
    if device.startswith("cuda"):
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    try:
        return "bf16" if torch.ops.mkldnn._is_mkldnn_bf16_supported() else "fp32"
    except (AttributeError, RuntimeError):
        return "fp32"


def build_model(cfg: TrainConfig, labels: list[str]) -> BGPT:
    if cfg.init:
        model = ckpt.load_model(cfg.init, new_ok=True, **cfg.overrides)
        if cfg.task == "classify":
            model = with_classifier(model, labels, cfg.seed)
        model.train()
        return model
    if cfg.preset not in PRESETS:
        raise TrainError(f"unknown preset {cfg.preset!r} (known: {', '.join(PRESETS)})")
    overrides = dict(cfg.overrides)
    if cfg.task == "classify":
        overrides["num_labels"] = len(labels)
    try:
        config = PRESETS[cfg.preset].with_overrides(**overrides)
    except (TypeError, ValueError) as e:
        raise TrainError(f"bad model settings: {e}") from None
    torch.manual_seed(cfg.seed)  # the initial weights depend on the seed only
    model = BGPT(config)
    model.labels = list(labels)
    return model


def _data_layout(cfg: TrainConfig, resume_dir: Path | None) -> str:
    """The model's `layout` (how files are cut into patches), known before the model is built."""
    if "layout" in cfg.overrides:
        return cfg.overrides["layout"]
    if resume_dir is not None or cfg.init:
        source = resume_dir if resume_dir is not None else ckpt.resolve(cfg.init)
        return ckpt.read_config(source).get("layout", "paper")
    return PRESETS[cfg.preset].layout if cfg.preset in PRESETS else "paper"


def with_classifier(model: BGPT, labels: list[str], seed: int) -> BGPT:
    """The model with a classification head for `labels`: kept when it already has one for
    exactly these labels, otherwise a new head (initialised from the seed) on the same
    patch-level decoder; the byte-level decoder comes along unchanged."""
    if model.config.num_labels == len(labels) and model.labels == list(labels):
        return model
    config = model.config.with_overrides(num_labels=len(labels))
    torch.manual_seed(seed)
    new = BGPT(config)
    state = {
        k: v
        for k, v in model.state_dict().items()
        if not k.startswith(("classifier.", "feature_head."))  # both are per label
    }
    missing, unexpected = new.load_state_dict(state, strict=False)
    assert not unexpected and all(k.startswith(("classifier.", "feature_head.")) for k in missing)
    new.labels = list(labels)
    return new


def label_counts(stream: Stream, indices: list[int] | None) -> dict[str, int]:
    """Training examples per label name (all records, or those at `indices`)."""
    records = stream.files.records
    chosen = indices if indices is not None else range(len(records))
    counts = [0] * len(stream.labels)
    for i in chosen:
        counts[records[i].label] += 1
    return dict(zip(stream.labels, counts, strict=True))


def train(cfg: TrainConfig, on_event: Callable[[dict], None] | None = None) -> dict:
    """Train (or resume) the run in cfg.out; returns a summary. on_event gets every log record.

    The writing process holds an exclusive lock on OUT/.lock for the whole run, so a second
    `train` on the same folder (two commands started together, or --resume of a live run)
    stops at once instead of interleaving checkpoints and metrics. The caller's torch random
    state and thread count are as they were when it returns (the run seeds its own).
    """
    threads = torch.get_num_threads()
    try:
        with torch.random.fork_rng(devices=_cuda_devices()):
            return _train_locked(cfg, on_event)
    finally:
        torch.set_num_threads(threads)


def _cuda_devices() -> list[int]:
    return list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []


def _train_locked(cfg: TrainConfig, on_event: Callable[[dict], None] | None) -> dict:
    if int(os.environ.get("RANK", "0")) != 0:  # torchrun: only rank 0 writes the run folder
        with _StopRequest() as stop:
            return _train(cfg, on_event, stop)
    run = Path(cfg.out)
    created = not run.exists()
    run.mkdir(parents=True, exist_ok=True)
    with open(run / ".lock", "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise TrainError(
                f"{run}: another training process is writing this run (it holds {run / '.lock'})"
            ) from None
        try:
            with _StopRequest() as stop:
                return _train(cfg, on_event, stop)
        except BaseException:
            if created and [f.name for f in run.iterdir()] == [".lock"]:
                (run / ".lock").unlink()  # failed before writing anything: leave no empty run
                run.rmdir()
            raise


class _Abandoned(Exception):
    """Raised by the first Ctrl-C inside `_StopRequest.abandoned_by_ctrl_c`."""


def _from_abandon(err: BaseException | None) -> bool:
    """Whether `err` is `_Abandoned` or was raised while handling or because of one."""
    seen = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, _Abandoned):
            return True
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return False


class _StopRequest:
    """While active, Ctrl-C or SIGTERM asks the loop to save a checkpoint and stop after the
    step it is in; a second Ctrl-C interrupts at once. Only the main thread can take signals:
    elsewhere (a training thread in a notebook) it never fires."""

    def __init__(self):
        self.requested = False
        self._old = {}
        self._optional = False

    def _handle(self, signum, frame):
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = True
        if self._optional:
            self._optional = False
            raise _Abandoned

    @contextmanager
    def abandoned_by_ctrl_c(self) -> Iterator[None]:
        """A block the run can do without (an evaluation, the loss plot): a stop request
        ends it at once, so that Ctrl-C does not wait for it."""
        self._optional = not self.requested
        try:
            yield
        except Exception as err:
            # the signal may land where Python wraps what it raises (a class body being made
            # on import, as matplotlib's on the first plot: RuntimeError from _Abandoned)
            if not _from_abandon(err):
                raise
        finally:
            self._optional = False

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc):
        for sig, handler in self._old.items():
            signal.signal(sig, handler)
        return False


def _train(cfg: TrainConfig, on_event: Callable[[dict], None] | None, stop: _StopRequest) -> dict:
    """The run: set-up, then optimizer steps with their logs, evaluations and checkpoints."""
    device, rank, world = _device_and_world(cfg)
    precision = _precision(cfg, device)
    run = Path(cfg.out)
    resume_dir = _resume_dir(run)
    if resume_dir is not None:
        cfg = _merge_saved(cfg, run)
    _check_config(cfg)
    stream, eval_stream, train_idx, held = _data(cfg, resume_dir)
    total = _total_steps(cfg, stream, train_idx, world)
    model, opt, start = _model_and_optimizer(cfg, resume_dir, stream, train_idx, device)
    objective = Objective(model, cfg.task, cfg.changed_weight)
    if world > 1:
        objective = nn.parallel.DistributedDataParallel(
            objective, find_unused_parameters=cfg.task == "classify"
        )
    if rank == 0:  # train() made the folder and holds its lock
        if resume_dir is None:
            ckpt.atomic_write_json(run / "train.json", asdict(cfg))
        _trim_metrics(run / "metrics.jsonl", start)
    evals = _eval_examples(cfg, stream, eval_stream, held, total)
    emit = _Emitter(run / "metrics.jsonl", on_event if rank == 0 else None, rank == 0)
    emit(
        {
            "event": "start",
            "step": start,
            "total_steps": total,
            "precision": precision,
            "parameters": model.num_parameters(),
            "world": world,
            "resumed": resume_dir is not None,
            "train_examples": len(train_idx) if train_idx is not None else len(stream),
            "eval_examples": len(evals),
        }
    )
    batches = _Batches(cfg, stream, train_idx, model.config.patch_length, device, rank, world)
    t0 = time.time()
    step, seen, stopped = start, 0, "done"
    while step < total:
        lr = lr_at(step, cfg, total)
        loss_val, nbytes, grad_norm = _optimizer_step(
            cfg, objective, model, opt, batches, step, lr, precision
        )
        step += 1
        seen += nbytes * world
        elapsed = time.time() - t0
        if world > 1:
            t = torch.tensor([loss_val], device=device)
            dist.all_reduce(t)
            loss_val = float(t) / world
        record = {
            "event": "step",
            "step": step,
            "loss": loss_val,
            "lr": lr,
            "grad_norm": grad_norm,
            "bytes_per_s": seen / max(elapsed, 1e-9),
            "elapsed_s": elapsed,
        }
        if cfg.task == "generate":
            record["bits_per_byte"] = loss_val / LN2
        emit(record, log=step % cfg.log_every == 0 or step == total)
        evaluate_now = step % cfg.eval_every == 0 or step == total
        if rank == 0 and evals and evaluate_now and not stop.requested:
            with stop.abandoned_by_ctrl_c():  # Ctrl-C: the step is saved without it
                emit({"event": "eval", "step": step, **_run_eval(model, cfg, evals, precision)})
            model.train()
        halt = _halt_reason(cfg, elapsed, step - start, stop, world, device)
        if step % cfg.save_every == 0 or step == total or halt:
            if rank == 0:
                save_checkpoint(run, model, opt, step, cfg, {"total_steps": total})
                emit({"event": "checkpoint", "step": step})
                if halt != "interrupted":
                    with stop.abandoned_by_ctrl_c():
                        _plot(run)
        if halt:
            stopped = halt
            break
    if rank == 0 and step == total and _wants_feature_head(model, step > start):
        with stop.abandoned_by_ctrl_c():
            fitted = _fit_features(model, stream, train_idx, evals, cfg)
            emit({"event": "feature_head", "step": step, **fitted})
            save_checkpoint(run, model, opt, step, cfg, {"total_steps": total})
    if world > 1:
        dist.barrier()
    return {
        "step": step,
        "total_steps": total,
        "stopped": stopped,
        "run": str(run),
        "elapsed_s": time.time() - t0,
    }


def _device_and_world(cfg: TrainConfig) -> tuple[str, int, int]:
    """The device, this process's rank and the world size; sets torch's thread count."""
    device = (
        cfg.device if cfg.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    )
    rank, world = _setup_distributed(device)
    if device == "cuda" and world > 1:
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
    torch.set_num_threads(cfg.threads or max(1, (os.cpu_count() or 1) // world))
    return device, rank, world


def _check_config(cfg: TrainConfig) -> None:
    if cfg.task not in ("generate", "classify"):
        raise TrainError(f"task must be generate or classify, not {cfg.task!r}")
    if not cfg.changed_weight > 0:
        raise TrainError(f"changed_weight must be positive, not {cfg.changed_weight}")
    if cfg.batch_size < 1 or cfg.grad_accum < 1:
        raise TrainError("batch size and gradient accumulation must be >= 1")


def _data(cfg: TrainConfig, resume_dir: Path | None):
    """(training stream, evaluation stream or None, training indices or None, held-out ones)."""
    model_labels = ckpt.read_config(resume_dir).get("labels") if resume_dir else None
    layout = _data_layout(cfg, resume_dir)
    try:
        stream = Stream(cfg.data, cfg, model_labels, layout)
        eval_stream = Stream(cfg.eval_data, cfg, stream.labels, layout) if cfg.eval_data else None
    except DataError as e:
        raise TrainError(str(e)) from None
    train_idx, held = (None, [])
    if stream.files is not None and eval_stream is None:
        train_idx, held = _split_eval(stream, cfg)
    return stream, eval_stream, train_idx, held


def _model_and_optimizer(cfg: TrainConfig, resume_dir, stream, train_idx, device):
    """The model and its AdamW (decay on matrices only), from the checkpoint when resuming;
    returns them and the step to start from."""
    if resume_dir is not None:
        model = ckpt.load_model(resume_dir)
        model.train()
    else:
        model = build_model(cfg, stream.labels)
    if cfg.task == "classify" and stream.files is not None:
        model.label_counts = label_counts(stream, train_idx)
    model.to(device)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": cfg.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=cfg.lr,
        betas=(0.9, 0.95),
    )
    start = 0
    if resume_dir is not None:
        meta = json.loads((resume_dir / "trainer.json").read_text())
        load_optimizer(opt, resume_dir, meta["optimizer"])
        start = int(meta["step"])
    return model, opt, start


@dataclass
class _Batches:
    """The micro-batches of a run: each a function of (seed, step, micro-batch, rank)."""

    cfg: TrainConfig
    stream: Stream
    train_idx: list[int] | None
    patch_length: int
    device: str
    rank: int
    world: int

    def get(self, step: int, micro: int):
        """(ids, loss mask, labels, patch mask) on the device; reseeds torch (dropout)."""
        cfg, rank = self.cfg, self.rank
        torch.manual_seed(
            int(np.random.default_rng([cfg.seed, step, micro, rank, 1]).integers(2**62))
        )
        rng = np.random.default_rng([cfg.seed, step, micro, rank])
        position = ((step * cfg.grad_accum + micro) * self.world + rank) * cfg.batch_size
        drawn = self.stream.draw(cfg.batch_size, step, position, rng, cfg.seed, self.train_idx)
        batch = [fit(e, self.patch_length, rng) for e in drawn]
        ids, mask, _ = (t.to(self.device) for t in collate(batch))
        labels = torch.tensor([e.label for e in batch], device=self.device)
        return ids, mask, labels, patch_mask_for(batch, ids.size(1), self.device)


def _optimizer_step(cfg, objective, model, opt, batches: _Batches, step, lr, precision):
    """One optimizer step over cfg.grad_accum micro-batches; (mean loss, bytes, grad norm)."""
    for g in opt.param_groups:
        g["lr"] = lr
    loss_sum, nbytes = 0.0, 0
    for micro in range(cfg.grad_accum):
        ids, mask, labels, pmask = batches.get(step, micro)
        sync = batches.world == 1 or micro == cfg.grad_accum - 1
        ctx = objective.no_sync() if not sync else _null()
        with ctx:
            with autocast_for(batches.device, precision):
                loss = objective(ids, mask, labels, pmask)
            (loss / cfg.grad_accum).backward()
        loss_sum += float(loss.detach())
        nbytes += int(ids.numel())
    grad_norm = float(nn.utils.clip_grad_norm_(model.parameters(), cfg.clip))
    opt.step()
    opt.zero_grad(set_to_none=True)
    return loss_sum / cfg.grad_accum, nbytes, grad_norm


def _halt_reason(cfg, elapsed: float, steps_done: int, stop, world: int, device) -> str | None:
    """Why the run stops after this step ("interrupted", "time limit", "stop_after"), or None;
    every rank stops at the same step if any rank must."""
    out_of_time = cfg.max_minutes is not None and elapsed > cfg.max_minutes * 60
    enough = cfg.stop_after is not None and steps_done >= cfg.stop_after
    interrupted = stop.requested
    if world > 1:
        flags = torch.tensor([int(out_of_time), int(enough), int(interrupted)], device=device)
        dist.all_reduce(flags, op=dist.ReduceOp.MAX)
        out_of_time, enough, interrupted = (bool(f) for f in flags.tolist())
    if interrupted:
        return "interrupted"
    if out_of_time:
        return "time limit"
    return "stop_after" if enough else None


class _null:
    def __enter__(self):
        return None

    def __exit__(self, *a):
        return False


def _wants_feature_head(model: BGPT, trained_now: bool) -> bool:
    """A classifier with a feature head fits it when its training ends: after steps run now,
    or on a resume of a finished run whose head was never fitted."""
    head = model.feature_head
    return head is not None and (trained_now or not head.fitted)


def _fit_features(model, stream, train_idx, evals, cfg) -> dict:
    from bytesim.features import fit_feature_head

    indices = train_idx if train_idx is not None else range(len(stream))
    train_examples = [stream.files.example(i) for i in indices]
    return fit_feature_head(model, train_examples, evals, cfg.batch_size)


def _run_eval(model, cfg, evals, precision) -> dict:
    if cfg.task == "classify":
        r = classification_accuracy(model, evals, cfg.batch_size)
        return {
            "accuracy": r["accuracy"],
            "majority_baseline": r["majority_baseline"],
            "eval_loss": r["loss"],
        }
    r = evaluate(model, evals, cfg.batch_size, precision)
    return {
        "eval_bits_per_byte": r["bits_per_target_byte"],
        "eval_bits_per_byte_all": r["bits_per_byte"],
    }


def _total_steps(cfg, stream, train_idx, world) -> int:
    if cfg.steps is not None:
        return cfg.steps
    if cfg.epochs is not None:
        if stream.generated is not None:
            raise TrainError("--epochs needs file data; give --steps for a gen: source")
        n = len(train_idx) if train_idx is not None else len(stream)
        return max(1, math.ceil(cfg.epochs * n / (cfg.batch_size * cfg.grad_accum * world)))
    return 1000


def _resume_dir(run: Path) -> Path | None:
    latest = run / ckpt.LATEST
    if not latest.is_file():
        return None
    d = run / latest.read_text().strip()
    if not (d / "trainer.json").is_file():
        raise TrainError(f"{latest}: points at {d.name}, which is not a complete checkpoint")
    return d


def _merge_saved(cfg: TrainConfig, run: Path) -> TrainConfig:
    """On resume, the saved settings win except for how long and how to run."""
    saved = json.loads((run / "train.json").read_text())
    keep = {
        "steps",
        "max_minutes",
        "stop_after",
        "threads",
        "device",
        "eval_every",
        "save_every",
        "log_every",
        "out",
    }
    if cfg.steps is None:
        keep.discard("steps")
    merged = {**saved, **{k: getattr(cfg, k) for k in keep}}
    return TrainConfig(**{k: v for k, v in merged.items() if k in TrainConfig.__dataclass_fields__})


def _trim_metrics(path: Path, step: int) -> None:
    """Drop records past the resumed step (work lost since the last checkpoint)."""
    if not path.exists():
        return
    lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
    kept = [ln for ln in lines if json.loads(ln).get("step", 0) <= step]
    write_atomic(path, ("\n".join(kept) + "\n" if kept else "").encode())


class _Emitter:
    def __init__(self, path: Path, callback, write: bool):
        self.path, self.callback, self.write = path, callback, write

    def __call__(self, record: dict, log: bool = True) -> None:
        if self.write and log:
            with open(self.path, "a") as f:
                f.write(json.dumps(record) + "\n")
        if self.callback is not None:
            self.callback(record)


def _plot(run: Path) -> None:
    """loss.png: train and eval bits per byte (or loss) against the step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = [json.loads(ln) for ln in (run / "metrics.jsonl").read_text().splitlines() if ln]
    steps = [r for r in records if r.get("event") == "step"]
    evals = [r for r in records if r.get("event") == "eval"]
    key = "bits_per_byte" if steps and "bits_per_byte" in steps[0] else "loss"
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot([r["step"] for r in steps], [r[key] for r in steps], label=f"train {key}")
    ekey = "eval_bits_per_byte" if evals and "eval_bits_per_byte" in evals[0] else "eval_loss"
    if evals:
        ax.plot([r["step"] for r in evals], [r[ekey] for r in evals], "o-", label=ekey)
    ax.set_xlabel("step")
    ax.set_ylabel(key.replace("_", " "))
    ax.grid(alpha=0.3)
    ax.legend()
    try:
        with replacing(run / "loss.png") as tmp:
            fig.savefig(tmp, dpi=100, format="png")
    finally:
        plt.close(fig)


def parse_overrides(items: list[str]) -> dict:
    """`key=value` strings -> ModelConfig overrides with the field's type."""
    types = {f: t for f, t in ModelConfig.__annotations__.items()}
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or key not in types:
            known = ", ".join(types)
            raise TrainError(f"--set {item!r}: expected FIELD=VALUE with FIELD one of {known}")
        out[key] = _convert(key, value.strip(), types[key])
    return out


def _convert(key: str, value: str, annotation: str):
    try:
        if value.lower() == "none" and "None" in annotation:
            return None
        if annotation.startswith("bool"):
            flags = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
            if value.lower() not in flags:
                raise ValueError(value)
            return flags[value.lower()]
        if annotation.startswith("int"):
            return int(value)
        if annotation.startswith("float"):
            return float(value)
        return value
    except ValueError:
        raise TrainError(f"--set {key}={value}: not a valid {annotation.split()[0]}") from None
