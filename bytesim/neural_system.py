"""Neural simulation of any system (bytesim.systems): run its traces on a byte model, score it.

The prompt is a trace's sequence cut after state 0 (header, context, state 0). As for the CPU
(bytesim.neural_cpu), two ways to run a model:

- free-running: the model reads its own previous states. It writes as many states as the
  reference has, or, for a system with `halted`, until a state for which `halted` is true (at
  most `max_states`). An all-<eop> patch ends it early: the states it did not write are wrong.
- teacher-forced: every state from the reference states before it. A one-patch state is decoded
  from the patch decoder's features over the reference trace (as bytesim.neural_cpu does); a
  state of several patches is generated patch by patch from a prompt cut after the reference's
  previous state, so its later patches read the model's own earlier ones.

Scores: the share of reference state bytes (state 1 onward) the prediction gets right, a missing
byte counting as wrong; exact states; exact traces (free-running); per field of the system; and
a baseline that repeats the previous state.

One trace side by side (`bytesim run-system`): `run_system` runs it free-running (or
teacher-forced) and gives every state of the model its probability (`state_probabilities`: the
product of its bytes' probabilities under the byte decoder, after the model's own states
free-running, after the reference ones teacher-forced); states less probable than
`unsure_below` are marked unsure, as `bytesim run --neural` marks them for the CPU.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from bytesim.data import EOP, PATCH
from bytesim.neural_cpu import UNSURE_BELOW, StateScore, matches, run_figures
from bytesim.systems import (
    System,
    SystemTrace,
    prompt_ids,
    sequence_ids,
    state0_patch,
)


class NeuralSystemError(ValueError):
    """A model that cannot run a system's traces."""


def check_model(model, system: System, traces: Sequence[SystemTrace]) -> None:
    """Refuse a model whose patch_length cannot hold the longest sequence a trace needs."""
    for t in traces:
        states = max(len(t.states) - 1, system.max_states if system.halted else 0)
        need = state0_patch(system, t) + (states + 1) * system.patches_per_state
        if model.config.patch_length < need:
            raise NeuralSystemError(
                f"the model's patch_length is {model.config.patch_length}; a {system.name} trace "
                f"({t.name or 'unnamed'}) needs {need}"
            )


def _states(system: System, generated: torch.Tensor, count: int) -> np.ndarray:
    """Generated values after a prompt -> (k, state_size) states, at most `count`; a last state
    cut short (an all-<eop> patch ended the sequence) is completed with <eop>."""
    patches = generated.view(-1, PATCH).cpu().numpy()
    if len(patches) and (patches[-1] == EOP).all():
        patches = patches[:-1]
    per = system.patches_per_state
    k = min(count, -(-len(patches) // per))
    out = np.full((k * per, PATCH), EOP, dtype=np.int64)
    out[: min(len(patches), k * per)] = patches[: k * per]
    return out.reshape(k, system.state_size)


def _halted(system: System, state: np.ndarray) -> bool:
    if system.halted is None or (state > 255).any():
        return False
    return bool(system.halted(bytes(state.astype(np.uint8).tolist())))


def free_run(
    model,
    system: System,
    traces: Sequence[SystemTrace],
    batch_size: int = 64,
    progress: Callable[[int], None] | None = None,
) -> list[np.ndarray]:
    """Greedy free-running predictions: for each trace a (k, state_size) array of states 1..k
    (values 0..256; 256 = <eop>, always wrong)."""
    check_model(model, system, traces)
    per = system.patches_per_state
    out: list[np.ndarray] = []
    for start in range(0, len(traces), batch_size):
        chunk = traces[start : start + batch_size]
        prompts = [torch.from_numpy(prompt_ids(system, t)) for t in chunk]
        limits = [system.max_states if system.halted else len(t.states) - 1 for t in chunk]
        written: list[list[torch.Tensor]] = [[] for _ in chunk]

        def stop(_index, patches, written=written, limits=limits):
            done = torch.zeros(len(patches), dtype=torch.bool)
            for i, patch in enumerate(patches):
                written[i].append(patch)
                n = len(written[i])
                if n % per == 0:
                    state = torch.cat(written[i][-per:]).cpu().numpy()
                    done[i] = n // per >= limits[i] or _halted(system, state)
            return done

        seqs = model.generate(prompts, model.config.patch_length, temperature=0.0, stop=stop)
        for s, p, limit in zip(seqs, prompts, limits, strict=True):
            out.append(_states(system, s[len(p) :], limit))
        if progress:
            progress(len(chunk))
    return out


@torch.no_grad()
def teacher_forced(
    model,
    system: System,
    traces: Sequence[SystemTrace],
    batch_size: int = 16,
    progress: Callable[[int], None] | None = None,
) -> list[np.ndarray]:
    """Greedy predictions of states 1..N, each from the reference states before it."""
    check_model(model, system, traces)
    if system.patches_per_state > 1:
        return teacher_forced_by_generation(model, system, traces, batch_size, progress)
    was_training = model.training
    model.eval()
    out: list[np.ndarray] = []
    try:
        for start in range(0, len(traces), batch_size):
            chunk = traces[start : start + batch_size]
            seqs = [torch.from_numpy(sequence_ids(system, t)) for t in chunk]
            ids = torch.full((len(seqs), max(len(s) for s in seqs)), EOP, dtype=torch.long)
            for i, s in enumerate(seqs):
                ids[i, : len(s)] = s
            features = model.patch_features(ids)  # (B, P, H)
            patches = ids.view(len(seqs), -1, PATCH)
            retrieved = model.retrieve(features, patches) if model.retrieved else None
            rows_f, rows_p, rows_r, counts = [], [], [], []
            for i, t in enumerate(chunk):
                first, n = state0_patch(system, t), len(t.states) - 1  # state 0 predicts 1
                rows_f.append(features[i, first : first + n])
                rows_p.append(patches[i, first : first + n])
                if retrieved is not None:
                    rows_r.append(retrieved[i, first : first + n])
                counts.append(n)
            got = torch.cat(rows_r) if rows_r else None
            predicted = model.decode_patches(torch.cat(rows_f), torch.cat(rows_p), got)
            out.extend(part.cpu().numpy() for part in predicted.split(counts))
            if progress:
                progress(len(chunk))
    finally:
        model.train(was_training)
    return out


def teacher_forced_by_generation(
    model,
    system: System,
    traces: Sequence[SystemTrace],
    batch_size: int = 16,
    progress: Callable[[int], None] | None = None,
) -> list[np.ndarray]:
    """Teacher forcing for states of any size: state k generated from a prompt cut after the
    reference state k-1 (one prompt per state, `batch_size` prompts at a time)."""
    check_model(model, system, traces)
    per = system.patches_per_state
    jobs = []  # (trace index, prompt)
    for i, t in enumerate(traces):
        ids = torch.from_numpy(sequence_ids(system, t))
        for k in range(1, len(t.states)):
            jobs.append((i, ids[: (state0_patch(system, t) + k * per) * PATCH]))
    predicted: list[list[np.ndarray]] = [[] for _ in traces]
    for start in range(0, len(jobs), batch_size):
        chunk = jobs[start : start + batch_size]
        calls = [0]

        def stop(_index, patches, calls=calls):
            calls[0] += 1
            return torch.full((len(patches),), calls[0] >= per, dtype=torch.bool)

        prompts = [p for _, p in chunk]
        seqs = model.generate(prompts, model.config.patch_length, temperature=0.0, stop=stop)
        for (i, p), s in zip(chunk, seqs, strict=True):
            state = _states(system, s[len(p) :], 1)
            predicted[i].append(state[0] if len(state) else np.full(system.state_size, EOP))
    out = [np.stack(p).astype(np.int64) for p in predicted]
    if progress:
        progress(len(traces))
    return out


def baseline_copy(trace: SystemTrace) -> np.ndarray:
    """Each state predicted as the true previous one."""
    return trace.states[:-1].astype(np.int64)


# ----------------------------------------------------------------------------- scoring


class SystemScore(StateScore):
    """Running totals of state-byte accuracy over traces of one system."""

    def __init__(self, system: System):
        super().__init__(fields=dict(system.fields), state_size=system.state_size)

    def add(self, trace: SystemTrace, predicted: np.ndarray) -> None:
        self.add_states(trace.states[1:], predicted)


def score(system: System, traces: Sequence[SystemTrace], predictions) -> dict:
    s = SystemScore(system)
    for trace, predicted in zip(traces, predictions, strict=True):
        s.add(trace, predicted)
    return s.summary()


def evaluate_system(
    model,
    system: System,
    traces: Sequence[SystemTrace],
    batch_size: int = 64,
    free: bool = True,
    progress: Callable[[int], None] | None = None,
) -> dict:
    """Every figure of `bytesim eval-system` over `traces` (see the module docstring)."""
    check_model(model, system, traces)
    base = score(system, traces, [baseline_copy(t) for t in traces])
    result: dict = {
        "system": system.name,
        "instances": len(traces),
        "baseline_copy_byte_accuracy": base["byte_accuracy"],
        "baseline_copy_exact_state_rate": base["exact_state_rate"],
    }
    common = ("byte_accuracy", "exact_state_rate", "field_accuracy")
    runs = [
        (
            "teacher_forced",
            lambda: teacher_forced(model, system, traces, max(1, batch_size // 4), progress),
            common,
        )
    ]
    if free:
        runs.append(
            (
                "free_running",
                lambda: free_run(model, system, traces, batch_size, progress),
                (*common, "exact_trace_rate", "extra_states"),
            )
        )
    for mode, predict, keys in runs:
        start = time.perf_counter()
        s = score(system, traces, predict())
        seconds = time.perf_counter() - start
        result.update({f"{mode}_{key}": s[key] for key in keys})
        result[f"{mode}_states_per_second"] = s["states"] / seconds if seconds else 0.0
    return result


# ----------------------------------------------------------------------------- one run


@torch.no_grad()
def state_probabilities(
    model,
    system: System,
    trace: SystemTrace,
    states: np.ndarray,
    history: np.ndarray | None = None,
) -> np.ndarray:
    """The probability (n,) the model gives each of `states` (states 1..n, values 0..256) after
    the trace's prompt and the states before it in `history` (default: `states` themselves, as
    for the model's own free-running states; the reference states, teacher-forced). A state of
    several patches is the product of its patches', each after the state's earlier patches."""
    n, per = len(states), system.patches_per_state
    if not n:
        return np.zeros(0)
    states = np.asarray(states, dtype=np.int64).reshape(n, system.state_size)
    if history is None or per == 1:  # one pass: every target reads only what comes before it
        before = states if history is None else np.asarray(history, np.int64)[:n]
        log_probs = _patch_log_probs(model, system, trace, [(before, states)])[0]
        return np.exp(log_probs.reshape(n, per).sum(axis=1))
    history = np.asarray(history, np.int64)
    jobs = [(np.concatenate([history[:k], states[k : k + 1]]), states[k : k + 1]) for k in range(n)]
    log_probs = _patch_log_probs(model, system, trace, jobs)
    return np.exp(np.array([lp[-per:].sum() for lp in log_probs]))


def _patch_log_probs(model, system, trace, jobs) -> list[np.ndarray]:
    """For each (body, targets) job: the log-probabilities of the patches of `targets`, the
    last states of `body` (states after state 0), read after the prompt and `body`."""
    was_training = model.training
    model.eval()
    try:
        prompt = prompt_ids(system, trace)
        out = []
        for body, targets in jobs:
            ids = torch.from_numpy(np.concatenate([prompt, body.ravel()])).unsqueeze(0)
            features = model.patch_features(ids)  # (1, P, H)
            patches = ids.view(1, -1, PATCH)
            retrieved = model.retrieve(features, patches) if model.retrieved else None
            count = targets.size // PATCH
            rows = slice(patches.size(1) - count - 1, patches.size(1) - 1)  # each predicts next
            got = retrieved[0, rows] if retrieved is not None else None
            wanted = torch.from_numpy(targets.reshape(count, PATCH))
            log_probs = model.patch_log_probs(features[0, rows], patches[0, rows], wanted, got)
            out.append(log_probs.double().cpu().numpy())
        return out
    finally:
        model.train(was_training)


@dataclass
class SystemRun:
    """One trace run by the model beside the reference (`bytesim run-system`)."""

    system: System
    reference: SystemTrace
    predicted: np.ndarray  # (n, state_size) the model's states after state 0 (256: <eop>)
    mode: str  # "free-running" or "teacher-forced"
    score: SystemScore
    probabilities: np.ndarray  # (n,) the model's probability of each of its states
    unsure_below: float = UNSURE_BELOW  # states less probable than this are marked unsure

    @property
    def unsure(self) -> np.ndarray:
        """(n,) bool: the states the model is unsure of."""
        return self.probabilities < self.unsure_below

    def wrong_fields(self) -> list[list[str]]:
        """For each neural state, the fields with a wrong byte (all of them past the reference)."""
        right = matches(self.reference.states[1:], self.predicted)
        fields = self.system.fields.items()
        return [
            [name for name, part in fields if k >= len(right) or not right[k, part].all()]
            for k in range(len(self.predicted))
        ]

    def report(self) -> dict:
        """The run's figures (what `bytesim run-system --json` prints beside the states)."""
        return {"system": self.system.name, "trace": self.reference.name, **run_figures(self)}

    def steps(self) -> list[dict]:
        """Per neural state: its step, its values (256 = <eop>), its wrong fields, its
        probability and whether it is marked unsure."""
        return [
            {
                "step": k + 1,
                "values": [int(v) for v in p],
                "wrong": wrong,
                "probability": float(self.probabilities[k]),
                "unsure": bool(self.unsure[k]),
            }
            for k, (p, wrong) in enumerate(zip(self.predicted, self.wrong_fields(), strict=True))
        ]


def run_system(
    model,
    system: System,
    trace: SystemTrace,
    teacher_forcing: bool = False,
    unsure_below: float = UNSURE_BELOW,
) -> SystemRun:
    """Run one trace with the model, free-running (or teacher-forced), with the probability the
    model gives each of its states."""
    if teacher_forcing:
        predicted = teacher_forced(model, system, [trace])[0]
    else:
        predicted = free_run(model, system, [trace])[0]
    score = SystemScore(system)
    score.add(trace, predicted)
    history = trace.states[1:].astype(np.int64) if teacher_forcing else None
    probs = state_probabilities(model, system, trace, predicted, history)
    mode = "teacher-forced" if teacher_forcing else "free-running"
    return SystemRun(system, trace, predicted, mode, score, probs, unsure_below)
