"""Neural CPU simulation: training examples, scoring, baselines, free and teacher-forced runs."""

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from bytesim.checkpoint import save_model
from bytesim.cpu_task import CpuSource, encode_instance
from bytesim.data import EOP, DataError, generated_source
from bytesim.model import BGPT, PRESETS
from bytesim.neural_cpu import (
    PROMPT_PATCHES,
    NeuralCpuError,
    Score,
    SearchCheck,
    Trace,
    baseline,
    evaluate_cpu,
    first_divergence,
    free_run,
    load_traces,
    prompt_ids,
    random_traces,
    teacher_forced,
)
from cli.main import cli
from cpu.assembler import assemble
from cpu.instance import encode_instance as instance_bytes
from cpu.interpreter import run
from cpu.isa import BY_MNEMONIC
from cpu.state import State

# INC A; LOADI 7; HLT from zero registers: the worked example of cpu/instance.py
PROGRAM = assemble("INC A\nLOADI 7\nHLT\n")
MEMORY = PROGRAM + bytes(1024 - len(PROGRAM))
INSTANCE = instance_bytes(MEMORY, run(MEMORY, State()))


def tiny_cpu_model(**overrides) -> BGPT:
    torch.manual_seed(0)
    config = PRESETS["tiny"].with_overrides(patch_length=322, **overrides)
    return BGPT(config).eval()


# --- training examples


def test_cpu_example_counts_only_states_after_state_0():
    example = encode_instance(INSTANCE)
    assert len(example.ids) == 16 * (1 + 64 + 4 + 1)  # header, memory, 4 states, <eop> patch
    counted = np.flatnonzero(example.loss_mask)
    assert counted[0] == 16 + 1024 + 16  # state 1 is the first target
    assert counted[-1] == len(example.ids) - 1  # through the final <eop> patch
    assert example.ids[16 + 1024 + 16 + 2] == 2  # state 1's IR opcode: INC


def test_cpu_example_with_loss_all_counts_program_bytes():
    example = encode_instance(INSTANCE, loss="all")
    assert example.loss_mask[16:].all()


def test_generated_cpu_source_is_deterministic_and_within_bounds():
    source = generated_source("gen:cpu?min=3&max=9")
    a = source.sample(np.random.default_rng([0, 5]), 5)
    b = source.sample(np.random.default_rng([0, 5]), 5)
    assert np.array_equal(a.ids, b.ids)
    states = len(a.ids) // 16 - 1 - 64 - 1
    assert 4 <= states <= 10  # N + 1 states for N in 3..9


def test_focus_draws_the_named_mnemonics_more_often():
    source = generated_source("gen:cpu?min=200&max=200&focus=DIV,SUB&focus_share=0.5")
    example = source.sample(np.random.default_rng(3), 0)
    memory = example.ids[16 : 16 + 1024].reshape(-1, 4)[:199]  # the 199 words before HLT
    ops = Counter(int(op) for op in memory[:, 0])
    div, sub = BY_MNEMONIC["DIV"].opcode, BY_MNEMONIC["SUB"].opcode
    # each is drawn with probability 0.5 / 2 + 0.5 / 20 = 0.275 (others 0.025)
    assert 35 <= ops[div] <= 75 and 35 <= ops[sub] <= 75
    assert max(n for op, n in ops.items() if op not in (div, sub)) < 20
    plain = generated_source("gen:cpu?min=200&max=200&focus=DIV&focus_share=0")
    assert np.array_equal(
        plain.sample(np.random.default_rng(3), 0).ids,
        generated_source("gen:cpu?min=200&max=200").sample(np.random.default_rng(3), 0).ids,
    )


@pytest.mark.parametrize(
    ("step", "bound"), [(0, 16), (50, 16 + (255 - 16) * 50 // 100), (100, 255), (10**6, 255)]
)
def test_curriculum_grows_the_longest_program_linearly(step, bound):
    assert CpuSource(curriculum=100).upper_bound(step) == bound


@pytest.mark.parametrize(
    "spec",
    [
        "gen:cpu?min=0",
        "gen:cpu?max=300",
        "gen:cpu?loss=some",
        "gen:cpu?colour=red",
        "gen:cpu?min=x",
        "gen:cpu?focus=DIV&focus_share=1.5",
        "gen:cpu?focus=HLT&focus_share=0.5",
        "gen:cpu?focus=DIV,DIV&focus_share=0.5",
        "gen:cpu?focus_share=0.5",
        "gen:cpu?focus=DIV&focus_share=much",
    ],
)
def test_bad_cpu_source_options_are_one_clear_error(spec):
    with pytest.raises(DataError, match="gen:cpu"):
        generated_source(spec)


# --- scoring and baselines


def test_prompt_is_header_memory_and_state_0():
    ids = prompt_ids(MEMORY, bytes(16))
    assert len(ids) == 16 * PROMPT_PATCHES
    assert list(ids[:4]) == [ord("b"), ord("i"), ord("n"), EOP]


def test_perfect_prediction_scores_one():
    trace = Trace.from_instance(INSTANCE)
    score = Score()
    score.add(trace, trace.states[1:].astype(np.int64))
    summary = score.summary()
    assert summary["byte_accuracy"] == summary["exact_state_rate"] == 1.0
    assert summary["exact_trace_rate"] == 1.0
    assert first_divergence(trace.states[1:], trace.states[1:]) is None


def test_missing_states_count_as_wrong_and_extra_states_are_counted():
    trace = Trace.from_instance(INSTANCE)  # 3 states after state 0
    score = Score()
    score.add(trace, trace.states[1:2].astype(np.int64))
    assert score.bytes_right == 16 and score.bytes_total == 48
    assert first_divergence(trace.states[1:], trace.states[1:2]) == 2
    longer = np.concatenate([trace.states[1:], trace.states[1:2]]).astype(np.int64)
    score = Score()
    score.add(trace, longer)
    assert score.extra_states == 1 and score.summary()["exact_trace_rate"] == 0.0
    assert first_divergence(trace.states[1:], longer) == 4


def test_eop_values_are_wrong_bytes():
    trace = Trace.from_instance(INSTANCE)
    predicted = trace.states[1:].astype(np.int64)
    predicted[0, 0] = EOP
    score = Score()
    score.add(trace, predicted)
    assert score.bytes_right == 47


def test_states_are_attributed_to_the_instruction_they_show():
    score = Score()
    score.add(Trace.from_instance(INSTANCE), Trace.from_instance(INSTANCE).states[1:])
    assert set(score.variants) == {"(fetch only)", "INC r", "LOADI n"}


def test_copy_baseline_repeats_the_previous_state():
    trace = Trace.from_instance(INSTANCE)
    assert np.array_equal(baseline(trace, "copy"), trace.states[:-1])


def test_pc_ir_baseline_gets_pc_and_ir_right_and_copies_registers():
    trace = Trace.from_instance(INSTANCE)
    predicted = baseline(trace, "pc_ir")
    assert np.array_equal(predicted[:, [0, 2, 3, 4, 5]], trace.states[1:, [0, 2, 3, 4, 5]])
    assert np.array_equal(predicted[:, [1, *range(6, 16)]], trace.states[:-1, [1, *range(6, 16)]])


def test_baselines_on_random_instances_are_near_the_measured_figures():
    traces = random_traces(200, seed=1)
    copy, pc_ir = Score(), Score()
    for t in traces:
        copy.add(t, baseline(t, "copy"))
        pc_ir.add(t, baseline(t, "pc_ir"))
    # the figures: 72.7 % and 95.1 % of bytes, 25.5 % exact states for pc_ir
    assert copy.summary()["byte_accuracy"] == pytest.approx(0.727, abs=0.02)
    assert pc_ir.summary()["byte_accuracy"] == pytest.approx(0.951, abs=0.01)
    assert pc_ir.summary()["exact_state_rate"] == pytest.approx(0.255, abs=0.03)


def test_not_an_instance_is_a_clear_error():
    with pytest.raises(ValueError, match="not an instance"):
        Trace.from_instance(bytes(1030), "x.bin")


# --- running a model


@pytest.mark.parametrize(
    "overrides",
    [
        {"prev_patch": "none"},
        {"prev_patch": "add"},
        {"prev_patch": "prefix"},
        {"prev_patch": "prefix", "retrieve": True},
    ],
)
def test_teacher_forced_equals_free_running_on_the_first_state(overrides):
    model = tiny_cpu_model(**overrides)
    trace = Trace.from_instance(INSTANCE)
    forced = teacher_forced(model, [trace])[0]
    free = free_run(model, [trace], max_states=1)[0]
    assert forced.shape == (3, 16)
    assert np.array_equal(forced[0], free[0])  # both predict state 1 from the same prompt


@pytest.mark.parametrize("retrieve", [False, True])
def test_teacher_forced_batches_match_single_runs(retrieve):
    model = tiny_cpu_model(prev_patch="add", retrieve=retrieve)
    traces = random_traces(3, seed=2, max_len=6)
    together = teacher_forced(model, traces, batch_size=3)
    for t, p in zip(traces, together, strict=True):
        assert np.array_equal(teacher_forced(model, [t])[0], p)


def test_search_check_compares_greedy_and_reference_states_where_they_differ():
    model = tiny_cpu_model(prev_patch="prefix", retrieve=True)
    traces = random_traces(3, seed=4, max_len=6)
    search = SearchCheck()
    predicted = teacher_forced(model, traces, batch_size=2, search=search)
    wrong = sum(
        int((p != t.states[1:]).any(axis=1).sum()) for p, t in zip(predicted, traces, strict=True)
    )
    summary = search.summary()
    assert summary["wrong_states"] == wrong > 0  # an untrained model gets states wrong
    assert summary["wrong_states_reference_more_probable"] == sum(
        r > g for g, r in zip(search.greedy, search.reference, strict=True)
    )
    assert summary["wrong_states_reference_more_probable"] <= wrong
    median = summary["wrong_state_probability_median"]
    assert median == pytest.approx(float(np.exp(np.median(search.greedy)))) and 0.0 < median <= 1
    assert all(g <= 0.0 and r <= 0.0 for g, r in zip(search.greedy, search.reference, strict=True))


def test_free_run_stops_at_max_states():
    model = tiny_cpu_model()  # untrained: it writes states without ever halting
    trace = Trace.from_instance(INSTANCE)
    longer = free_run(model, [trace], max_states=6)[0]
    out = free_run(model, [trace], max_states=3)[0]
    assert longer.shape == (6, 16) and out.shape == (3, 16)
    assert np.array_equal(out, longer[:3])  # the same greedy states, cut at the limit


def test_evaluate_cpu_reports_every_figure():
    model, traces = tiny_cpu_model(), random_traces(2, seed=3, max_len=4)
    result = evaluate_cpu(model, traces, batch_size=2)
    for key in (
        "free_running_byte_accuracy",
        "teacher_forced_byte_accuracy",
        "teacher_forced_exact_state_rate",
        "free_running_exact_trace_rate",
        "baseline_copy_byte_accuracy",
        "baseline_pc_ir_byte_accuracy",
    ):
        assert 0.0 <= result[key] <= 1.0, key
    search = SearchCheck()
    teacher_forced(model, traces, batch_size=2, search=search)
    expected = search.summary()
    assert result["teacher_forced_wrong_states"] == expected["wrong_states"]
    assert (
        result["teacher_forced_wrong_states_reference_more_probable"]
        == expected["wrong_states_reference_more_probable"]
        <= result["teacher_forced_wrong_states"]
    )


def test_a_model_too_short_for_cpu_traces_is_refused():
    model = BGPT(PRESETS["tiny"])
    with pytest.raises(ValueError, match="patch_length"):
        free_run(model, [Trace.from_instance(INSTANCE)])


# --- CLI


def test_eval_cpu_json(tmp_path):
    save_model(tiny_cpu_model(), tmp_path / "m")
    result = CliRunner().invoke(
        cli,
        [
            "eval-cpu",
            "--random",
            "2",
            "--max-instructions",
            "4",
            "--model",
            str(tmp_path / "m"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["instances"] == 2 and "free_running_byte_accuracy" in report
    assert report["confidence_states"] > 0
    assert {"confidence_auroc", "confidence_threshold", "confidence_wrong_flagged"} <= set(report)


def test_eval_cpu_on_instance_files(tmp_path):
    save_model(tiny_cpu_model(), tmp_path / "m")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.bin").write_bytes(INSTANCE)
    result = CliRunner().invoke(
        cli, ["eval-cpu", str(tmp_path / "data"), "--model", str(tmp_path / "m"), "--no-free"]
    )
    assert result.exit_code == 0, result.output
    assert "teacher-forced" in result.stderr


@pytest.mark.parametrize("layout", ["shards", "bgpt"])
def test_a_dataset_with_both_splits_needs_split_and_split_picks_one(tmp_path, layout):
    from cpu.dataset import write_bgpt, write_shards

    data = tmp_path / "data"
    write = write_shards if layout == "shards" else write_bgpt
    write(data, train=5, test=3, seed=1, max_len=64)
    with pytest.raises(NeuralCpuError, match=r"both the train \(5\) and the test \(3\)"):
        load_traces([str(data)])
    test = load_traces([str(data)], split="test")
    assert len(test) == 3 and len(load_traces([str(data)], split="train")) == 5
    assert len(load_traces([str(data)], limit=2, split="test")) == 2
    assert len(load_traces([str(data)], split="all")) == 8
    if layout == "bgpt":
        assert len(load_traces([str(data / "test")])) == 3  # one split's folder: no question
    save_model(tiny_cpu_model(), tmp_path / "m")
    args = ["eval-cpu", str(data), "--model", str(tmp_path / "m"), "--no-free", "--json"]
    refused = CliRunner().invoke(cli, args)
    assert refused.exit_code == 1 and "choose with --split test" in refused.stderr
    chosen = CliRunner().invoke(cli, [*args, "--split", "test"])
    assert chosen.exit_code == 0, chosen.output
    assert json.loads(chosen.stdout)["instances"] == 3
    misuse = CliRunner().invoke(cli, ["eval-cpu", "--random", "2", "--split", "test"])
    assert misuse.exit_code == 2 and "--split" in misuse.stderr


def test_eval_cpu_with_a_missing_model_is_one_clear_error(tmp_path):
    result = CliRunner().invoke(cli, ["eval-cpu", "--random", "1", "--model", str(tmp_path)])
    assert result.exit_code == 1
    assert "not a checkpoint" in result.stderr and "Traceback" not in result.output


def test_run_neural_shows_both_traces_and_a_summary(tmp_path):
    save_model(tiny_cpu_model(), tmp_path / "m")
    program = tmp_path / "p.asm"
    program.write_text("INC A\nLOADI 7\nHLT\n")
    out = tmp_path / "neural.bin"
    args = [
        "run",
        str(program),
        "--neural",
        "--model",
        str(tmp_path / "m"),
        "--neural-out",
        str(out),
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "ref" in result.stderr and "neural" in result.stderr
    assert "state bytes right" in result.stderr
    data = out.read_bytes()
    assert data[:1040] == INSTANCE[:1040] and (len(data) - 1040) % 16 == 0


def test_run_neural_json_reports_accuracy(tmp_path):
    save_model(tiny_cpu_model(), tmp_path / "m")
    program = tmp_path / "p.asm"
    program.write_text("INC A\nHLT\n")
    args = [
        "run",
        str(program),
        "--neural",
        "--teacher-forced",
        "--model",
        str(tmp_path / "m"),
        "--json",
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    neural = json.loads(result.stdout)["neural"]
    assert neural["mode"] == "teacher-forced" and neural["reference_states"] == 2
    assert len(neural["neural"]) == 2  # teacher-forced: one prediction per reference state
    wrong = sum(len(state["wrong"]) for state in neural["neural"])
    assert neural["state_byte_accuracy"] == pytest.approx(1 - wrong / (16 * 2))


def test_neural_options_without_neural_are_a_usage_error(tmp_path):
    program = tmp_path / "p.asm"
    program.write_text("HLT\n")
    result = CliRunner().invoke(cli, ["run", str(program), "--teacher-forced"])
    assert result.exit_code == 2 and "--neural" in result.stderr


def test_the_shipped_cpu_model_loads_and_fits_cpu_traces():
    from bytesim.checkpoint import load_model
    from bytesim.neural_cpu import DEFAULT_MODEL, check_model

    check_model(load_model(DEFAULT_MODEL))


def test_the_readme_demo_runs_the_countdown_exactly_at_every_step():
    """README's demo: the shipped model free-running on examples/countdown.asm."""
    program = Path(__file__).resolve().parent.parent / "examples" / "countdown.asm"
    args = ["run", str(program), "--acc", "3", "--reg", "B=1", "--neural", "--json"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    neural = json.loads(result.stdout)["neural"]
    assert neural["mode"] == "free-running" and neural["reference_states"] == 9
    assert neural["exact_trace"] and neural["exact_state_rate"] == 1.0
    assert neural["neural_states"] == neural["reference_states"]


def test_run_neural_is_library_work_the_cli_only_prints():
    from bytesim.checkpoint import load_model
    from bytesim.neural_cpu import DEFAULT_MODEL, run_neural
    from cpu.program import load_program, trace

    path = Path(__file__).resolve().parent.parent / "examples" / "countdown.asm"
    instance = trace(load_program(path)).instance
    run = run_neural(load_model(DEFAULT_MODEL), instance, "countdown.asm")
    report = run.report()
    assert report["mode"] == "free-running" and report["reference_states"] > 0
    assert [s["step"] for s in run.steps()] == list(range(1, len(run.predicted) + 1))
    blob = run.instance_bytes()
    assert blob[: len(run.reference.memory)] == run.reference.memory
    assert len(blob) == len(run.reference.memory) + 16 * (1 + len(run.predicted))


def test_auroc_is_the_chance_a_positive_outscores_a_negative():
    from bytesim.neural_cpu import auroc

    rng = np.random.default_rng(0)
    a, b = rng.normal(1, 1, 60).round(1), rng.normal(0, 1, 40).round(1)  # with ties
    brute = np.mean([[1.0 if x > y else 0.5 if x == y else 0.0 for y in b] for x in a])
    assert auroc(a, b) == pytest.approx(brute)
    assert auroc(np.array([2.0, 3.0]), np.array([0.0, 1.0])) == 1.0


def test_confidence_flags_wrong_states_below_the_right_states_first_percentile():
    from bytesim.neural_cpu import Confidence

    c = Confidence()
    right = np.log(np.linspace(0.5, 1.0, 200))
    wrong = np.log(np.array([0.1, 0.2, 0.9]))
    c.add(torch.tensor(np.concatenate([right, wrong])), torch.tensor([True] * 200 + [False] * 3))
    summary = c.summary()
    assert summary["states"] == 203 and summary["wrong"] == 3
    assert 0.5 < summary["threshold"] < 0.51  # 1 % of the right states are below it
    assert summary["wrong_flagged"] == pytest.approx(2 / 3)
    assert Confidence().summary()["auroc"] is None


def test_state_probabilities_after_the_reference_are_the_teacher_forced_ones():
    from bytesim.neural_cpu import Confidence, state_probabilities

    model, traces = tiny_cpu_model(), random_traces(2, seed=3, max_len=6)
    confidence = Confidence()
    predicted = teacher_forced(model, traces, confidence=confidence)
    pairs = zip(traces, predicted, strict=True)
    probs = [state_probabilities(model, t, p, t.states[1:]) for t, p in pairs]
    assert np.allclose(np.concatenate(probs), np.exp(confidence.log_probs), atol=1e-5)
    own = state_probabilities(model, traces[0], predicted[0])  # after its own states
    assert own.shape == (len(predicted[0]),) and ((0 <= own) & (own <= 1)).all()


def test_run_neural_json_gives_each_state_its_probability_and_marks_the_unsure(tmp_path):
    save_model(tiny_cpu_model(), tmp_path / "m")
    program = tmp_path / "p.asm"
    program.write_text("LOADI 3\nPOP A\nDEC A\nHLT\n")
    base = ["run", str(program), "--neural", "--model", str(tmp_path / "m"), "--json"]
    for threshold in ("0", "1"):
        result = CliRunner().invoke(cli, [*base, "--unsure-below", threshold])
        assert result.exit_code == 0, result.output
        neural = json.loads(result.stdout)["neural"]
        steps = neural["neural"]
        assert all(0 <= s["probability"] <= 1 for s in steps)
        assert [s["unsure"] for s in steps] == [s["probability"] < float(threshold) for s in steps]
        assert neural["unsure_states"] == sum(s["unsure"] for s in steps)


def test_the_draft_benchmark_gives_the_same_trace_in_fewer_passes(capsys):
    import importlib.util

    path = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_neural_run.py"
    spec = importlib.util.spec_from_file_location("bench_neural_run", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--rounds", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "cpu-small: 255 states of the card's 255-word program, 1 rounds"
    plain, drafted = (int(line.split(", ")[1].split()[0]) for line in lines[1:3])
    assert plain == 16 * 255 and drafted < plain / 2
    assert lines[3].endswith("the same trace: True")
