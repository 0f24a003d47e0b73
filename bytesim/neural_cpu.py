"""Neural CPU simulation: run programs on a trained byte model and score it against the reference.

The prompt is the bGPT encoding (SPEC 2.1) of an instance cut after state 0: the `bin` header
patch, the 64 patches of memory and the patch of state 0 (66 patches). The model then writes one
16-byte patch per state until a state whose IR opcode is 0 (the HLT state) or 256 states.

Two ways to run it:
- free-running (the paper's evaluation): the model reads its own previous states;
- teacher-forced: every state is predicted from the reference states before it (the patch-level
  decoder runs once over the reference trace, then every state is decoded greedily).

Scores (SPEC 2.4): the share of reference state bytes, state 1 onward, that the prediction gets
right, a missing byte counting as wrong; exact states; exact traces; per field and per instruction
variant. A state is attributed to the variant of the instruction whose effect it shows: state k
(k >= 2) to word k-2; state 1 shows the initial registers (variant "(fetch only)").
Teacher-forced, a search check: how many wrong states a search over whole states (beam search)
could mend at most, those whose reference state is more probable than the greedy one.
Two per-step baselines, each from the true previous state, say what a model must beat:
`copy` repeats the previous state; `pc_ir` sets PC and IR right and copies ACC and registers.

Where the model is unsure: the probability of a whole state under the byte decoder (the product
of its byte probabilities). Teacher-forced, `Confidence` scores how well the probability of the
greedy state tells right states from wrong ones (`confidence_auroc`; `confidence_threshold`, the
probability below which 1 % of the right states fall, and `confidence_wrong_flagged`, the share
of wrong states below it). `run --neural` gives every state of the model its probability
(`state_probabilities`: after the model's own states, free-running) and marks those below
`--unsure-below`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from bytesim.data import EOP, PATCH, eop_patch, header_patch
from cpu.dataset import SPLITS  # ("train", "test"), as gen-cpu-dataset names them
from cpu.isa import variant_of

MEMORY = 1024
STATE = 16
PROMPT_PATCHES = 1 + MEMORY // PATCH + 1  # header, memory, state 0
MAX_STATES = 256  # states after state 0: a 256-word program ends with its HLT state at 256
FIELDS = {"pc": slice(0, 1), "acc": slice(1, 2), "ir": slice(2, 6), "registers": slice(6, 16)}
FETCH_ONLY = "(fetch only)"


class NeuralCpuError(ValueError):
    """A model or an instance that cannot be used for neural CPU simulation."""


# ----------------------------------------------------------------------------- instances


@dataclass(frozen=True)
class Trace:
    """A reference run: memory (1024 bytes) and states (N + 1, 16) uint8, state 0 first."""

    memory: bytes
    states: np.ndarray
    name: str = ""

    @classmethod
    def from_instance(cls, data: bytes, name: str = "") -> Trace:
        n = len(data) - MEMORY
        if n < STATE or n % STATE or n // STATE > MAX_STATES + 1:
            raise NeuralCpuError(
                f"{name or 'instance'}: {len(data)} bytes is not an instance "
                f"(1024 + 16 k bytes, 1 <= k <= {MAX_STATES + 1})"
            )
        states = np.frombuffer(data, np.uint8, offset=MEMORY).reshape(-1, STATE)
        return cls(bytes(data[:MEMORY]), states.copy(), name)

    def word(self, index: int) -> bytes:
        return self.memory[4 * index : 4 * index + 4]

    def to_bytes(self) -> bytes:
        return self.memory + self.states.tobytes()


def prompt_ids(memory: bytes, state0: bytes) -> np.ndarray:
    """The 66-patch prompt: header `bin`, memory, state 0. (1056,) int64."""
    body = np.frombuffer(bytes(memory) + bytes(state0), np.uint8).astype(np.int64)
    return np.concatenate([header_patch("bin"), body])


def sequence_ids(trace: Trace) -> np.ndarray:
    """The full bGPT sequence of a reference trace (prompt, states 1..N, final <eop> patch)."""
    body = np.frombuffer(trace.to_bytes(), np.uint8).astype(np.int64)
    return np.concatenate([header_patch("bin"), body, eop_patch()])


def check_model(model) -> None:
    need = PROMPT_PATCHES + MAX_STATES
    if model.config.patch_length < need:
        raise NeuralCpuError(
            f"the model's patch_length is {model.config.patch_length}; a CPU trace needs {need}"
        )


# ----------------------------------------------------------------------------- running


def free_run(
    model,
    traces: Sequence[Trace],
    batch_size: int = 64,
    max_states: int = MAX_STATES,
    progress: Callable[[int], None] | None = None,
) -> list[np.ndarray]:
    """Greedy free-running predictions: for each trace a (k, 16) int array of states 1..k.

    Values are 0..256 (256 = <eop>, always wrong). Generation stops after the first predicted
    state whose IR opcode byte is 0, after an all-<eop> patch (not returned), or at max_states.
    """
    check_model(model)
    out: list[np.ndarray] = []
    for start in range(0, len(traces), batch_size):
        chunk = traces[start : start + batch_size]
        prompts = [torch.from_numpy(prompt_ids(t.memory, t.states[0].tobytes())) for t in chunk]

        def halted(_index, patches):
            return patches[:, 2] == 0  # IR opcode 0: the HLT state is the last

        # one trace (`run --neural`): guess that each state repeats the last, as most bytes do
        seqs = model.generate(
            prompts,
            PROMPT_PATCHES + max_states,
            temperature=0.0,
            stop=halted,
            draft=len(prompts) == 1,
        )
        for s in seqs:
            states = s[PROMPT_PATCHES * PATCH :].view(-1, PATCH).cpu().numpy()
            if len(states) and (states[-1] == EOP).all():
                states = states[:-1]
            out.append(states)
        if progress:
            progress(len(chunk))
    return out


@dataclass
class SearchCheck:
    """Could a search over whole states (e.g. beam search) mend teacher-forced errors?

    For every wrongly predicted state, the log-probability of the greedy state and of the
    reference state under the byte decoder. Where the reference is not the more probable one, no
    search that ranks whole states by probability can pick it."""

    greedy: list[float] = field(default_factory=list)
    reference: list[float] = field(default_factory=list)

    def add(self, greedy: torch.Tensor, reference: torch.Tensor) -> None:
        self.greedy.extend(greedy.tolist())
        self.reference.extend(reference.tolist())

    def summary(self) -> dict:
        g, r = np.array(self.greedy), np.array(self.reference)
        return {
            "wrong_states": len(g),
            "wrong_states_reference_more_probable": int((r > g).sum()),
            "wrong_state_probability_median": float(np.exp(np.median(g))) if len(g) else None,
        }


FALSE_ALARMS = 0.01  # the share of right states a confidence threshold may flag


@dataclass
class Confidence:
    """How well the model's probability of its own (greedy) state tells right from wrong.

    For every teacher-forced state: the log-probability of the greedy state under the byte
    decoder and whether it is the reference state. `summary()`: the AUROC (the chance that a
    right state is more probable than a wrong one), and the threshold below which `FALSE_ALARMS`
    of the right states fall, with the share of the wrong states it flags."""

    log_probs: list[float] = field(default_factory=list)
    right: list[bool] = field(default_factory=list)

    def add(self, log_probs: torch.Tensor, right: torch.Tensor) -> None:
        self.log_probs.extend(log_probs.tolist())
        self.right.extend(right.tolist())

    def summary(self) -> dict:
        lp, ok = np.array(self.log_probs), np.array(self.right, dtype=bool)
        good, bad = lp[ok], lp[~ok]
        out: dict = {"states": len(lp), "wrong": int(len(bad))}
        if not len(good) or not len(bad):
            return {**out, "auroc": None, "threshold": None, "wrong_flagged": None}
        threshold = float(np.quantile(good, FALSE_ALARMS))
        return {
            **out,
            "auroc": auroc(good, bad),
            "threshold": float(np.exp(threshold)),
            "wrong_flagged": float((bad < threshold).mean()),
        }


def auroc(positive: np.ndarray, negative: np.ndarray) -> float:
    """P(a positive score > a negative one), ties counting one half (the Mann-Whitney U)."""
    scores = np.concatenate([positive, negative])
    order = scores.argsort(kind="stable")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):  # average ranks over ties
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    u = ranks[: len(positive)].sum() - len(positive) * (len(positive) + 1) / 2
    return float(u / (len(positive) * len(negative)))


@torch.no_grad()
def teacher_forced(
    model,
    traces: Sequence[Trace],
    batch_size: int = 16,
    progress: Callable[[int], None] | None = None,
    search: SearchCheck | None = None,
    confidence: Confidence | None = None,
) -> list[np.ndarray]:
    """Greedy predictions of states 1..N, each from the reference states before it.

    With `search`, also records how probable the greedy and the reference states are wherever
    they differ (`SearchCheck`); with `confidence`, how probable every greedy state is and
    whether it is right (`Confidence`)."""
    check_model(model)
    was_training = model.training
    model.eval()
    out: list[np.ndarray] = []
    try:
        for start in range(0, len(traces), batch_size):
            chunk = traces[start : start + batch_size]
            seqs = [torch.from_numpy(sequence_ids(t)) for t in chunk]
            T = max(len(s) for s in seqs)
            ids = torch.full((len(seqs), T), EOP, dtype=torch.long)
            for i, s in enumerate(seqs):
                ids[i, : len(s)] = s
            features = model.patch_features(ids)  # (B, P, H)
            patches = ids.view(len(seqs), -1, PATCH)
            retrieved = model.retrieve(features, patches) if model.retrieved else None
            rows_f, rows_p, rows_r, counts = [], [], [], []
            for i, t in enumerate(chunk):
                n = len(t.states) - 1  # states to predict
                first = PROMPT_PATCHES - 1  # patch of state 0 predicts state 1
                rows_f.append(features[i, first : first + n])
                rows_p.append(patches[i, first : first + n])
                if retrieved is not None:
                    rows_r.append(retrieved[i, first : first + n])
                counts.append(n)
            feats, prev = torch.cat(rows_f), torch.cat(rows_p)
            got = torch.cat(rows_r) if rows_r else None
            predicted = model.decode_patches(feats, prev, got)
            truth = torch.cat(
                [patches[i, PROMPT_PATCHES : PROMPT_PATCHES + n] for i, n in enumerate(counts)]
            )
            if confidence is not None:
                greedy = model.patch_log_probs(feats, prev, predicted, got)
                confidence.add(greedy, (predicted == truth).all(dim=1))
            if search is not None:
                bad = (predicted != truth).any(dim=1).nonzero().squeeze(1)
                if len(bad):
                    args = (feats[bad], prev[bad])
                    rest = got[bad] if got is not None else None
                    search.add(
                        model.patch_log_probs(*args, predicted[bad], rest),
                        model.patch_log_probs(*args, truth[bad], rest),
                    )
            for part in predicted.split(counts):
                out.append(part.cpu().numpy())
            if progress:
                progress(len(chunk))
    finally:
        model.train(was_training)
    return out


def baseline(trace: Trace, kind: str) -> np.ndarray:
    """Per-step baseline predictions of states 1..N from the true previous states."""
    prev = trace.states[:-1].astype(np.int64).copy()
    if kind == "copy":
        return prev
    if kind == "pc_ir":
        k = np.arange(1, len(trace.states))
        prev[:, 0] = np.minimum(k, 255)
        words = np.frombuffer(trace.memory, np.uint8).reshape(-1, 4)
        prev[:, 2:6] = words[np.minimum(k - 1, 255)]
        return prev
    raise ValueError(f"unknown baseline {kind!r}")


# ----------------------------------------------------------------------------- scoring


def matches(reference: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """(N, 16) bool: which reference state bytes the prediction gets right (missing = wrong)."""
    right = np.zeros(reference.shape, dtype=bool)
    n = min(len(reference), len(predicted))
    right[:n] = reference[:n] == predicted[:n]
    return right


def first_divergence(reference: np.ndarray, predicted: np.ndarray) -> int | None:
    """1-based state index of the first wrong, missing or extra state; None if all match."""
    right = matches(reference, predicted).all(axis=1)
    if not right.all():
        return int(np.argmin(right)) + 1
    if len(predicted) != len(reference):
        return len(reference) + 1
    return None


def _share(a, b):
    return a / b if b else 0.0


@dataclass
class StateScore:
    """Running totals of state-byte accuracy over traces whose states are `state_size` bytes,
    per field (`fields`: name -> byte slice of a state). `Score` (the CPU) and
    `neural_system.SystemScore` (any system) add to it."""

    fields: dict[str, slice] = field(default_factory=lambda: dict(FIELDS))
    state_size: int = STATE
    bytes_total: int = 0
    bytes_right: int = 0
    states_total: int = 0
    states_exact: int = 0
    traces_total: int = 0
    traces_exact: int = 0
    extra_states: int = 0
    field_right: np.ndarray | None = None

    def add_states(self, reference: np.ndarray, predicted: np.ndarray):
        """Count one trace's states after state 0; returns (right bytes, exact states)."""
        if self.field_right is None:
            self.field_right = np.zeros(self.state_size, dtype=np.int64)
        right = matches(reference, predicted)
        exact = right.all(axis=1)
        self.bytes_total += right.size
        self.bytes_right += int(right.sum())
        self.states_total += len(reference)
        self.states_exact += int(exact.sum())
        self.traces_total += 1
        self.traces_exact += int(exact.all() and len(predicted) == len(reference))
        self.extra_states += max(0, len(predicted) - len(reference))
        self.field_right += right.sum(axis=0)
        return right, exact

    def summary(self) -> dict:
        right = self.field_right if self.field_right is not None else np.zeros(1, np.int64)
        fields = {
            name: _share(int(right[s].sum()), self.states_total * (s.stop - (s.start or 0)))
            for name, s in self.fields.items()
        }
        return {
            "byte_accuracy": _share(self.bytes_right, self.bytes_total),
            "exact_state_rate": _share(self.states_exact, self.states_total),
            "exact_trace_rate": _share(self.traces_exact, self.traces_total),
            "states": self.states_total,
            "extra_states": self.extra_states,
            "field_accuracy": fields,
        }


@dataclass
class Score(StateScore):
    """Running totals over CPU traces, with the tallies per instruction variant."""

    variants: dict[str, list[int]] = field(
        default_factory=dict
    )  # name -> [states, exact, bytes right]

    def add(self, trace: Trace, predicted: np.ndarray) -> None:
        right, exact = self.add_states(trace.states[1:], predicted)
        for k in range(1, len(trace.states)):
            name = FETCH_ONLY if k == 1 else (variant_of(trace.word(k - 2)) or "(invalid)")
            tally = self.variants.setdefault(name, [0, 0, 0])
            tally[0] += 1
            tally[1] += int(exact[k - 1])
            tally[2] += int(right[k - 1].sum())

    def summary(self) -> dict:
        variants = {
            name: {
                "states": n,
                "exact_state_rate": _share(e, n),
                "byte_accuracy": _share(b, 16 * n),
            }
            for name, (n, e, b) in sorted(self.variants.items())
        }
        return {**super().summary(), "variants": variants}


def evaluate_cpu(
    model,
    traces: Sequence[Trace],
    batch_size: int = 64,
    free: bool = True,
    progress: Callable[[int], None] | None = None,
) -> dict:
    """Every figure of `bytesim eval-cpu` over `traces` (see the module docstring)."""
    result: dict = {"instances": len(traces)}
    for kind in ("copy", "pc_ir"):
        s = _score(traces, [baseline(t, kind) for t in traces])
        result[f"baseline_{kind}_byte_accuracy"] = s["byte_accuracy"]
        result[f"baseline_{kind}_exact_state_rate"] = s["exact_state_rate"]
    common = ("byte_accuracy", "exact_state_rate", "field_accuracy", "variants")
    search, confidence = SearchCheck(), Confidence()
    runs = [
        (
            "teacher_forced",
            lambda: teacher_forced(
                model, traces, max(1, batch_size // 4), progress, search, confidence
            ),
            common,
        ),
    ]
    if free:
        runs.append(
            (
                "free_running",
                lambda: free_run(model, traces, batch_size, progress=progress),
                (*common[:2], "exact_trace_rate", "extra_states", *common[2:]),
            )
        )
    for mode, predict, keys in runs:
        start = time.perf_counter()
        s = _score(traces, predict())
        seconds = time.perf_counter() - start
        result.update({f"{mode}_{key}": s[key] for key in keys})
        result[f"{mode}_states_per_second"] = s["states"] / seconds if seconds else 0.0
    result.update({f"teacher_forced_{k}": v for k, v in search.summary().items()})
    result.update({f"confidence_{k}": v for k, v in confidence.summary().items()})
    return result


def _score(traces: Sequence[Trace], predictions: Sequence[np.ndarray]) -> dict:
    score = Score()
    for trace, predicted in zip(traces, predictions, strict=True):
        score.add(trace, predicted)
    return score.summary()


# ----------------------------------------------------------------------------- loading

DEFAULT_MODEL = "cpu-small"  # the shipped CPU-state model (bytesim/models/cpu-small)


FIELD_LABELS = ("PC", "ACC", "IR0", "IR1", "IR2", "IR3", *"ABCDEFGHIJ")  # a state's 16 bytes
UNSURE_BELOW = 0.95  # `run --neural` marks a state less probable than this (1 % false alarms: card)


@torch.no_grad()
def state_probabilities(
    model, trace: Trace, states: np.ndarray, history: np.ndarray | None = None
) -> np.ndarray:
    """The probability (n,) the model gives each of `states` (states 1..n) after the program,
    state 0 and the states before it in `history` (default: in `states` themselves, as when
    they are the model's own free-running states; the reference states, teacher-forced)."""
    if not len(states):
        return np.zeros(0)
    history = states if history is None else history[: len(states)]
    was_training = model.training
    model.eval()
    try:
        first = prompt_ids(trace.memory, trace.states[0].tobytes())
        body = np.concatenate([first, history.ravel()])
        ids = torch.from_numpy(body.astype(np.int64)).unsqueeze(0)
        features = model.patch_features(ids)
        patches = ids.view(1, -1, PATCH)
        retrieved = model.retrieve(features, patches) if model.retrieved else None
        rows = slice(PROMPT_PATCHES - 1, PROMPT_PATCHES - 1 + len(states))
        got = retrieved[0, rows] if retrieved is not None else None
        targets = torch.from_numpy(states.astype(np.int64))
        log_probs = model.patch_log_probs(features[0, rows], patches[0, rows], targets, got)
        return log_probs.exp().numpy()
    finally:
        model.train(was_training)


@dataclass
class NeuralRun:
    """One program run by the model beside the reference (`bytesim run --neural`)."""

    reference: Trace
    predicted: np.ndarray  # (n, 16) the model's states after state 0 (EOP where it stopped)
    mode: str  # "free-running" or "teacher-forced"
    score: Score
    probabilities: np.ndarray  # (n,) the model's probability of each of its states
    unsure_below: float = UNSURE_BELOW  # states less probable than this are marked unsure

    @property
    def unsure(self) -> np.ndarray:
        """(n,) bool: the states the model is unsure of."""
        return self.probabilities < self.unsure_below

    def report(self) -> dict:
        """The run's figures (what `bytesim run --neural --json` prints under "neural")."""
        return run_figures(self)

    def steps(self) -> list[dict]:
        """Per neural state: its step, its 16 values and the labels of its wrong bytes."""
        right = matches(self.reference.states[1:], self.predicted)
        return [
            {
                "step": k + 1,
                "values": [int(v) for v in p],
                "wrong": [FIELD_LABELS[i] for i in range(16) if k >= len(right) or not right[k, i]],
                "probability": float(self.probabilities[k]),
                "unsure": bool(self.unsure[k]),
            }
            for k, p in enumerate(self.predicted)
        ]

    def instance_bytes(self) -> bytes:
        """An instance file of the neural trace: memory, state 0, then the model's states
        (a byte it left as <eop> written as 0)."""
        states = np.where(self.predicted > 255, 0, self.predicted).astype(np.uint8)
        return self.reference.memory + self.reference.states[0].tobytes() + states.tobytes()


def run_neural(
    model,
    instance: bytes,
    name: str,
    teacher_forcing: bool = False,
    unsure_below: float = UNSURE_BELOW,
) -> NeuralRun:
    """Run an instance file's program with the model, free-running (or teacher-forced), with
    the probability the model gives each of its states (after its own states, free-running;
    after the reference ones, teacher-forced)."""
    reference = Trace.from_instance(instance, name)
    runner = teacher_forced if teacher_forcing else free_run
    predicted = runner(model, [reference])[0]
    score = Score()
    score.add(reference, predicted)
    mode = "teacher-forced" if teacher_forcing else "free-running"
    history = reference.states[1:] if teacher_forcing else None
    probs = state_probabilities(model, reference, predicted, history)
    return NeuralRun(reference, predicted, mode, score, probs, unsure_below)


def split_of(blob) -> str | None:
    """The dataset split an instance file belongs to, from where it lies (`gen-cpu-dataset`:
    `train/` or `test/` folders in the bgpt layout, member names in shards), or None."""
    from pathlib import PurePosixPath

    where = (
        PurePosixPath(blob.member).parts[0] if blob.member else PurePosixPath(blob.path).parent.name
    )
    return where if where in SPLITS else None


def load_traces(
    sources: Sequence[str], limit: int | None = None, split: str | None = None
) -> list[Trace]:
    """Instances from files, folders (e.g. the bgpt layout) and tar shards, in a stable order.

    Files that are not `.bin` are skipped; a `.bin` that is not an instance is an error.
    `split` ("train" or "test") keeps the instances of that split only, "all" keeps every one;
    without it, sources that hold both splits of a dataset are an error (scoring the training
    split with the test one by mistake would flatter a model).
    """
    from bytesim.data import DataError, list_blobs

    where = ", ".join(map(str, sources))
    try:
        blobs = [b for b in list_blobs(sources) if b.inner.endswith(".bin")]
    except DataError as e:
        raise NeuralCpuError(str(e)) from None
    if split in SPLITS:
        blobs = [b for b in blobs if split_of(b) == split]
        if not blobs:
            raise NeuralCpuError(f"{where}: no .bin instance files of the {split} split")
    elif split is None:
        counts = {s: sum(split_of(b) == s for b in blobs) for s in SPLITS}
        if all(counts.values()):
            raise NeuralCpuError(
                f"{where}: holds both the train ({counts['train']}) and the test "
                f"({counts['test']}) split; choose with --split test (or train, or all)"
            )
    if not blobs:
        raise NeuralCpuError(f"{where}: no .bin instance files found")
    traces = []
    for blob in blobs[:limit]:
        data = blob.read()
        traces.append(Trace.from_instance(data, blob.name))
    return traces


def random_traces(count: int, seed: int, min_len: int = 1, max_len: int = 255) -> list[Trace]:
    """Fresh instances drawn like the original dataset (held out: training never uses `seed`)."""
    from cpu.generate import random_instances

    return [
        Trace.from_instance(d, f"random-{seed}-{i}")
        for i, d in enumerate(random_instances(seed, count, min_len, max_len))
    ]


def run_figures(run) -> dict:
    """The figures of a neural run beside its reference (a NeuralRun, or neural_system's
    SystemRun): accuracy, exactness, first divergence, per-field accuracy, unsure states."""
    summary = run.score.summary()
    return {
        "mode": run.mode,
        "state_byte_accuracy": summary["byte_accuracy"],
        "exact_state_rate": summary["exact_state_rate"],
        "exact_trace": bool(summary["exact_trace_rate"] == 1.0),
        "reference_states": len(run.reference.states) - 1,
        "neural_states": len(run.predicted),
        "first_divergence": first_divergence(run.reference.states[1:], run.predicted),
        "field_accuracy": summary["field_accuracy"],
        "unsure_below": run.unsure_below,
        "unsure_states": int(run.unsure.sum()),
    }
