"""Neural simulation of any system: free-running and teacher-forced runs, scores, and the CPU
through the interface giving what bytesim.neural_cpu gives."""

import numpy as np
import pytest
import torch

from bytesim import neural_cpu
from bytesim.builtin_systems import life, rule110
from bytesim.cpu_system import cpu
from bytesim.model import BGPT, PRESETS
from bytesim.neural_system import (
    NeuralSystemError,
    SystemRun,
    SystemScore,
    baseline_copy,
    evaluate_system,
    free_run,
    run_system,
    score,
    state_probabilities,
    teacher_forced,
    teacher_forced_by_generation,
)
from bytesim.systems import System, random_traces, reference


def tiny_model(patch_length=64, **overrides) -> BGPT:
    torch.manual_seed(0)
    return BGPT(PRESETS["tiny"].with_overrides(patch_length=patch_length, **overrides)).eval()


@pytest.mark.parametrize(
    "overrides", [{}, {"prev_patch": "add"}, {"prev_patch": "prefix", "retrieve": True}]
)
def test_one_patch_teacher_forcing_equals_teacher_forcing_by_generation(overrides):
    model, system = tiny_model(**overrides), rule110(max_steps=4)
    traces = random_traces(system, 3, seed=1)
    fast = teacher_forced(model, system, traces, batch_size=2)
    slow = teacher_forced_by_generation(model, system, traces, batch_size=5)
    for t, a, b in zip(traces, fast, slow, strict=True):
        assert a.shape == b.shape == (len(t.states) - 1, 16)
        assert np.array_equal(a, b)


@pytest.mark.parametrize("system", [rule110(max_steps=3), life(max_steps=3)], ids=["1", "2"])
def test_teacher_forced_equals_free_running_on_the_first_state(system):
    model = tiny_model()
    traces = random_traces(system, 2, seed=2)
    forced, free = teacher_forced(model, system, traces), free_run(model, system, traces)
    for t, f, g in zip(traces, forced, free, strict=True):
        assert f.shape == (len(t.states) - 1, system.state_size)
        assert np.array_equal(f[0], g[0])


def test_free_running_writes_as_many_states_as_the_reference():
    system = life(max_steps=4)
    traces = random_traces(system, 3, seed=3)
    for t, p in zip(traces, free_run(tiny_model(), system, traces, batch_size=2), strict=True):
        assert p.shape == t.states[1:].shape


def test_free_running_stops_after_a_halted_state():
    base = rule110(max_steps=6)
    system = System("stops", 16, base.draw, base.trace, max_states=6, halted=lambda s: True)
    traces = random_traces(system, 2, seed=4)
    assert all(len(p) == 1 for p in free_run(tiny_model(), system, traces))


def test_the_cpu_through_the_interface_runs_as_neural_cpu_does():
    model = tiny_model(patch_length=322, prev_patch="prefix", retrieve=True)
    system = cpu(max_instructions=8)  # programs of 1..8 words: at most 8 states after state 0
    traces = random_traces(system, 3, seed=5)
    cpu_traces = [neural_cpu.Trace(t.context, t.states) for t in traces]
    for ours, theirs in zip(
        teacher_forced(model, system, traces),
        neural_cpu.teacher_forced(model, cpu_traces),
        strict=True,
    ):
        assert np.array_equal(ours, theirs)
    for ours, theirs in zip(
        free_run(model, system, traces),
        neural_cpu.free_run(model, cpu_traces, max_states=8),
        strict=True,
    ):
        assert np.array_equal(ours, theirs)


# --- scores


def test_scores_right_missing_and_extra_states_per_field():
    system = rule110(max_steps=2)
    trace = reference(system, (bytes(15) + b"\x01", 2))  # 2 states after state 0
    truth = trace.states[1:].astype(np.int64)
    assert score(system, [trace], [truth])["byte_accuracy"] == 1.0
    one_wrong = truth.copy()
    one_wrong[1, 0] = 7  # a byte of cells 0-31
    s = score(system, [trace], [one_wrong])
    assert s["byte_accuracy"] == 31 / 32 and s["exact_state_rate"] == 0.5
    assert s["field_accuracy"]["cells 0-31"] == 7 / 8 and s["field_accuracy"]["cells 96-127"] == 1
    missing = score(system, [trace], [truth[:1]])
    assert missing["byte_accuracy"] == 0.5 and missing["exact_trace_rate"] == 0.0
    extra = score(system, [trace], [np.concatenate([truth, truth[:1]])])
    assert extra["extra_states"] == 1 and extra["exact_trace_rate"] == 0.0


def test_baseline_copy_repeats_the_previous_state():
    trace = reference(rule110(), (bytes(16), 3))  # nothing ever changes
    assert score(rule110(), [trace], [baseline_copy(trace)])["exact_state_rate"] == 1.0


def test_evaluate_system_reports_every_figure():
    system = life(max_steps=2)
    result = evaluate_system(tiny_model(), system, random_traces(system, 2, seed=6), batch_size=4)
    assert result["system"] == "life" and result["instances"] == 2
    for key in (
        "free_running_byte_accuracy",
        "free_running_exact_trace_rate",
        "teacher_forced_byte_accuracy",
        "teacher_forced_exact_state_rate",
        "baseline_copy_byte_accuracy",
    ):
        assert 0.0 <= result[key] <= 1.0, key
    assert set(result["teacher_forced_field_accuracy"]) == set(system.fields)


def test_a_model_too_short_for_the_traces_is_refused():
    system = rule110(max_steps=80)
    trace = reference(system, (bytes(16), 80))
    with pytest.raises(NeuralSystemError, match="patch_length is 64; a rule110 trace"):
        free_run(tiny_model(), system, [trace])


# --- one run side by side


def test_state_probabilities_of_the_cpu_equal_neural_cpus():
    model = tiny_model(patch_length=322, prev_patch="prefix", retrieve=True)
    system = cpu(max_instructions=6)
    (trace,) = random_traces(system, 1, seed=8)
    cpu_trace = neural_cpu.Trace(trace.context, trace.states)
    predicted = free_run(model, system, [trace])[0]
    ours = state_probabilities(model, system, trace, predicted)
    theirs = neural_cpu.state_probabilities(model, cpu_trace, predicted)
    assert np.allclose(np.log(ours), np.log(theirs), atol=1e-4)
    truth, guessed = trace.states[1:].astype(np.int64), teacher_forced(model, system, [trace])[0]
    forced = state_probabilities(model, system, trace, guessed, truth)
    theirs = neural_cpu.state_probabilities(model, cpu_trace, guessed, truth)
    assert np.allclose(np.log(forced), np.log(theirs), atol=1e-4)


def test_two_patch_state_probabilities_read_the_states_own_first_patch():
    model, system = tiny_model(), life(max_steps=3)
    (trace,) = random_traces(system, 1, seed=9)
    states = free_run(model, system, [trace])[0]
    one_pass = state_probabilities(model, system, trace, states)
    state_by_state = state_probabilities(model, system, trace, states, history=states)
    assert one_pass.shape == (len(states),) and np.all((0 < one_pass) & (one_pass <= 1))
    assert np.allclose(np.log(one_pass), np.log(state_by_state), atol=1e-3)


def test_run_system_marks_wrong_fields_and_unsure_states():
    system = rule110(max_steps=3)
    (trace,) = random_traces(system, 1, seed=10)
    run = run_system(tiny_model(), system, trace, unsure_below=1.01)  # every state unsure
    report = run.report()
    assert report["system"] == "rule110" and report["mode"] == "free-running"
    assert report["neural_states"] == report["reference_states"] == len(trace.states) - 1
    assert report["unsure_states"] == len(run.predicted)
    steps = run.steps()
    assert [s["step"] for s in steps] == list(range(1, len(steps) + 1))
    for step, state, ref in zip(steps, run.predicted, trace.states[1:], strict=True):
        wrong = {name for name, part in system.fields.items() if (state[part] != ref[part]).any()}
        assert set(step["wrong"]) == wrong and len(step["values"]) == 16
    forced = run_system(tiny_model(), system, trace, teacher_forcing=True)
    assert forced.mode == "teacher-forced" and len(forced.predicted) == len(trace.states) - 1


def test_a_state_past_the_reference_is_wrong_in_every_field():
    system = rule110(max_steps=2)
    trace = reference(system, (bytes(16), 1))
    extra = np.zeros((2, 16), dtype=np.int64)  # the reference state 1, then one too many
    run = SystemRun(system, trace, extra, "free-running", SystemScore(system), np.ones(2))
    assert run.wrong_fields() == [[], list(system.fields)]
    assert run.report()["first_divergence"] == 2 and not run.report()["exact_trace"]
