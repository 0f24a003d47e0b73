"""The system interface: finding a system, checking what it returns, encoding its traces."""

import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

from bytesim.builtin_systems import life, rule110
from bytesim.cpu_system import cpu
from bytesim.cpu_task import encode_instance
from bytesim.data import EOP, DataError, FileSource, generated_source
from bytesim.system_task import trace_file, write_system_dataset
from bytesim.systems import (
    ENTRY_POINT_GROUP,
    System,
    SystemDefinitionError,
    available_systems,
    draw_trace,
    encode_trace,
    find_system,
    prompt_ids,
    random_traces,
    reference,
)
from cpu.dataset import DatasetError, write_bgpt, write_shards
from cpu.generate import random_instances

E = EOP
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "my_system"


def tiny(trace, state_size=16, **kw) -> System:
    return System("tiny", state_size, lambda rng: 0, trace, **kw)


# --- encoding


def test_worked_example_from_the_docstring():
    system = find_system("rule110")
    trace = reference(system, (bytes(15) + b"\x01", 1))
    example = encode_trace(system, trace)
    header = [114, 117, 108, 101, 49, 49, 48] + [E] * 9  # "rule110"
    context = [110, 1] + [0] * 14
    state0, state1 = [0] * 15 + [1], [0] * 15 + [3]
    assert example.ids.tolist() == header + context + state0 + state1 + [E] * 16
    assert np.flatnonzero(example.loss_mask).tolist() == list(range(48, 80))
    assert example.kind == "rule110"


@pytest.mark.parametrize(
    ("system", "value"),
    [
        (find_system("rule110"), (bytes(16), 2)),
        (cpu(), 7),  # 64 patches of context
        (System("bare", 16, lambda rng: 0, lambda v: (b"", [bytes(16)] * 2)), 0),  # none
    ],
    ids=["rule110", "cpu", "no-context"],
)
def test_loss_all_counts_everything_after_the_header(system, value):
    example = encode_trace(system, reference(system, value), loss="all")
    assert example.loss_mask.tolist() == [False] * 16 + [True] * (len(example.ids) - 16)


def test_a_short_context_is_padded_to_a_patch_and_an_empty_one_takes_none():
    def trace(context):
        return context, [bytes(16), bytes(16)]

    system = tiny(trace)
    short = encode_trace(system, reference(system, b"ab"))
    assert short.ids[16:32].tolist() == [97, 98] + [E] * 14
    assert short.loss_mask.reshape(-1, 16).any(axis=1).tolist() == [0, 0, 0, 1, 1]
    empty = encode_trace(system, reference(system, b""))
    counted = empty.loss_mask.reshape(-1, 16).any(axis=1)
    assert len(empty.ids) == 16 * 4 and counted.tolist() == [0, 0, 1, 1]


def test_two_patch_states_leave_both_patches_of_state_0_in_the_prompt():
    life = find_system("life", {"max_steps": "2"})
    trace = reference(life, (bytes(32), 2))
    example = encode_trace(life, trace)
    assert example.loss_mask.reshape(-1, 16).any(axis=1).tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 1]
    assert len(prompt_ids(life, trace)) == 16 * 4


def test_the_cpu_through_the_interface_encodes_exactly_as_gen_cpu():
    system = cpu(max_instructions=8)
    for seed in (1, 2, 3):
        (data,) = random_instances(seed, 1, 1, 8)
        ours = encode_trace(system, reference(system, seed))
        theirs = encode_instance(data)
        assert np.array_equal(ours.ids, theirs.ids)
        assert np.array_equal(ours.loss_mask, theirs.loss_mask)


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        ("gen:system?name=cpu", "gen:cpu"),
        ("gen:system?name=cpu&max_instructions=8", "gen:cpu?max=8"),
        ("gen:system?name=cpu&loss=all", "gen:cpu?loss=all"),
    ],
)
def test_gen_system_cpu_draws_the_examples_of_gen_cpu(ours, theirs):
    mine, gen_cpu = generated_source(ours), generated_source(theirs)
    rng_a, rng_b = np.random.default_rng(11), np.random.default_rng(11)
    for step in range(3):
        a, b = mine.sample(rng_a, step), gen_cpu.sample(rng_b, step)
        assert np.array_equal(a.ids, b.ids)  # the header patch is never a target: from 16 on
        assert np.array_equal(a.loss_mask[16:], b.loss_mask[16:])


def test_the_cpu_system_halts_on_opcode_0_and_bounds_its_states():
    system = find_system("cpu", {"max_instructions": "5"})
    assert system.max_states == 5 and system.header == "bin" and system.state_size == 16
    assert system.halted(bytes(16)) and not system.halted(bytes([0, 0, 1]) + bytes(13))
    trace = draw_trace(system, np.random.default_rng(3))
    assert 2 <= len(trace.states) <= 6 and len(trace.context) == 1024


# --- what a system returns


@pytest.mark.parametrize(
    ("result", "message"),
    [
        ([bytes(16)] * 2, "must return (context, states)"),
        ((b"", bytes(32)), "states as a list"),
        ((b"", [bytes(16), bytes(15)]), "state 1 has 15 bytes, not state_size 16"),
        ((b"", [bytes(16), [0] * 16]), "state 1 is list, not bytes"),
        (("ctx", [bytes(16)] * 2), "context is str, not bytes"),
        ((b"", [bytes(16)]), "gave 1 states"),
        ((b"", [bytes(16)] * 6), "gave 6 states"),
    ],
)
def test_a_wrong_trace_is_one_line_naming_the_system(result, message):
    system = tiny(lambda _: result, max_states=4)
    with pytest.raises(SystemDefinitionError, match="system tiny") as e:
        reference(system, 0)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_a_trace_that_raises_is_reported_with_the_system_name():
    system = tiny(lambda _: 1 / 0)
    with pytest.raises(SystemDefinitionError, match="system tiny: trace.. raised ZeroDivision"):
        reference(system, 0)


def test_a_draw_that_raises_is_reported_with_the_system_name():
    system = System("drawer", 16, lambda rng: {}["x"], lambda v: v)
    with pytest.raises(SystemDefinitionError, match="system drawer: draw.. raised KeyError"):
        draw_trace(system, np.random.default_rng(0))


def test_states_may_be_bytearrays_or_a_uint8_array():
    system = tiny(lambda _: (bytearray(3), np.zeros((3, 16), np.uint8)))
    assert reference(system, 0).states.shape == (3, 16)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"state_size": 20}, "multiple of 16"),
        ({"state_size": 0}, "multiple of 16"),
        ({"fields": {"x": slice(10, 20)}}, "field 'x' lies outside"),
        ({"fields": {"x": 3}}, "field 'x' must be a slice"),
        ({"header": "x" * 17}, "longer than 16 bytes"),
        ({"max_states": 0}, "max_states"),
        ({"trace": None}, "trace must be a function"),
    ],
)
def test_a_bad_system_definition_is_refused(kwargs, message):
    args = {"name": "bad", "state_size": 16, "draw": lambda rng: 0, "trace": lambda v: v}
    with pytest.raises(SystemDefinitionError, match=message):
        System(**{**args, **kwargs})


def test_default_fields_and_header():
    system = tiny(lambda v: v)
    assert system.fields == {"state": slice(0, 16)} and system.header == "tiny"
    assert system.patches_per_state == 1


# --- finding a system


def test_builtins_are_found_by_name_and_take_typed_options():
    assert find_system("rule110").state_size == 16
    assert find_system("life").state_size == 32
    assert find_system("rule110", {"max_steps": "5", "density": "0.25"}).max_states == 5
    assert find_system("cpu").fields == {
        "pc": slice(0, 1),
        "acc": slice(1, 2),
        "ir": slice(2, 6),
        "registers": slice(6, 16),
    }
    assert set(available_systems()) >= {"cpu", "rule110", "life"}


def test_a_function_found_by_module_attribute_gets_its_options():
    system = find_system("bytesim.builtin_systems:elementary_ca", {"rule": "30"})
    assert system.name == "rule30"


def test_the_example_package_is_found_by_module_attribute(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLE))
    system = find_system("my_system:lfsr16", {"max_steps": "3"})
    trace = reference(system, (1, 1))
    assert trace.states[:, :3].tolist() == [[0x00, 0x01, 0], [0xB4, 0x00, 1]]  # its docstring


def test_an_installed_entry_point_is_found_by_name(tmp_path, monkeypatch):
    info = tmp_path / "my_system-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: my-system\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\nlfsr16 = my_system:lfsr16\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.syspath_prepend(str(EXAMPLE))
    assert available_systems()["lfsr16"] == "my_system:lfsr16"
    assert find_system("lfsr16").name == "lfsr16"


@pytest.mark.parametrize(
    ("spec", "options", "message"),
    [
        ("nosuch", {}, "system nosuch: unknown (known: "),
        ("no_such_module_here:x", {}, "cannot import no_such_module_here (ModuleNotFoundError"),
        ("bytesim.builtin_systems:nothing", {}, "has no attribute 'nothing'"),
        ("bytesim.builtin_systems:SIDE", {}, "is a int, not a System"),
        ("bytesim.builtin_systems:life_grid", {}, "needs a default (state has none)"),
        ("bytesim.builtin_systems:elementary_ca", {"rule": "x"}, "rule must be an integer"),
        ("bytesim.builtin_systems:elementary_ca", {"rule": "300"}, "rule must be 0..255"),
        ("rule110", {"steps": "3"}, "unknown option 'steps' (known: min_steps, max_steps"),
        ("rule110", {"max_steps": "300"}, "1 <= min_steps <= max_steps <= 255"),
        ("rule110", {"density": "dense"}, "option density must be a number"),
        ("cpu", {"max_instructions": "256"}, "1 <= min_instructions <= max_instructions <= 255"),
    ],
)
def test_finding_a_system_fails_in_one_line(spec, options, message):
    with pytest.raises(SystemDefinitionError) as e:
        find_system(spec, options)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_a_function_returning_something_else_is_refused(monkeypatch, tmp_path):
    (tmp_path / "broken_system.py").write_text("def make():\n    return 3\nraise_me = 1\n")
    (tmp_path / "failing_system.py").write_text("raise RuntimeError('boom')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(SystemDefinitionError, match=r"make\(\) returned a int, not a System"):
        find_system("broken_system:make")
    with pytest.raises(SystemDefinitionError, match="cannot import failing_system.*boom"):
        find_system("failing_system:x")


def test_a_system_value_takes_no_options(monkeypatch, tmp_path):
    (tmp_path / "value_system.py").write_text(
        "from bytesim.builtin_systems import rule110\nSYSTEM = rule110()\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert find_system("value_system:SYSTEM").name == "rule110"
    with pytest.raises(SystemDefinitionError, match="takes no options, got max_steps"):
        find_system("value_system:SYSTEM", {"max_steps": "3"})


# --- the training source


def test_gen_system_draws_reproducible_examples_from_the_rng():
    source = generated_source("gen:system?name=rule110&max_steps=4")
    a = source.sample(np.random.default_rng(7), 0)
    b = source.sample(np.random.default_rng(7), 0)
    assert np.array_equal(a.ids, b.ids)
    assert 16 * 5 <= len(a.ids) <= 16 * 8  # header, context, 2..5 states, end


def test_gen_system_passes_loss_and_system_options():
    source = generated_source("gen:system?name=life&max_steps=1&loss=all")
    example = source.sample(np.random.default_rng(0), 0)
    assert len(example.ids) == 16 * 7 and example.loss_mask[16:].all()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("gen:system", "needs name=SYSTEM"),
        ("gen:system?name=rule110&loss=some", "loss must be 'states' or 'all'"),
        ("gen:system?name=rule110&rule=30", "system rule110: unknown option 'rule'"),
        ("gen:system?name=nosuch", "system nosuch: unknown"),
    ],
)
def test_gen_system_errors_are_data_errors(spec, message):
    with pytest.raises(DataError, match=message):
        generated_source(spec)


def test_random_traces_are_a_function_of_the_seed():
    system = rule110(max_steps=3)
    a, b = random_traces(system, 3, seed=5), random_traces(system, 3, seed=5)
    assert all(np.array_equal(x.states, y.states) for x, y in zip(a, b, strict=True))
    assert draw_trace(system, np.random.default_rng(1)).states.shape[1] == 16


def test_module_attribute_also_imports_from_the_current_directory(monkeypatch, tmp_path):
    (tmp_path / "beside_me.py").write_text(
        "from bytesim.builtin_systems import life\nSYSTEM = life()\n"
    )
    monkeypatch.chdir(tmp_path)
    path = list(sys.path)
    assert find_system("beside_me:SYSTEM").name == "life"
    assert sys.path == path  # the current directory is not left on the path


# --- stored traces (gen-system-dataset)

DATASET = {"train": 25, "test": 7, "seed": 3, "shard_size": 10}


def files_of(folder):
    """Every trace file of a dataset folder, shards unpacked: {split/name: bytes}."""
    found = {}
    for path in sorted(folder.rglob("*")):
        if path.suffix == ".tar":
            with tarfile.open(path) as tar:
                found.update({m.name: tar.extractfile(m).read() for m in tar if m.isfile()})
        elif path.is_file() and not path.name.startswith(".") and path.name != "manifest.json":
            found[f"{path.parent.name}/{path.name}"] = path.read_bytes()
    return found


def test_a_trace_file_is_the_padded_context_then_the_states():
    trace = reference(find_system("rule110"), (bytes(15) + b"\x01", 1))
    assert list(trace_file(trace)) == [110, 1] + [0] * 14 + [0] * 15 + [1] + [0] * 15 + [3]
    short = reference(tiny(lambda _: (b"ab", [bytes(16), b"\x07" * 16])), 0)
    assert trace_file(short) == b"ab" + bytes(14) + bytes(16) + b"\x07" * 16


@pytest.mark.parametrize("layout", ["shards", "bgpt"])
def test_training_on_stored_traces_reads_what_gen_system_writes(tmp_path, layout):
    system = rule110(max_steps=5)
    write_system_dataset(tmp_path, system, **DATASET, layout=layout)
    source = FileSource([tmp_path / "train"])
    assert len(source) == 25
    first = source.example(0)  # train/000000000: the first trace of train shard 0
    rng = np.random.default_rng(np.random.SeedSequence([3, 0, 0]))
    expected = encode_trace(system, draw_trace(system, rng), loss="all")
    assert np.array_equal(first.ids, expected.ids) and first.kind == "rule110"
    assert np.array_equal(first.loss_mask[16:], expected.loss_mask[16:])


def test_stored_cpu_traces_train_as_gen_cpu_with_loss_on_target(tmp_path):
    system = cpu(max_instructions=6)
    write_system_dataset(tmp_path, system, train=3, shard_size=3)
    rng = np.random.default_rng(np.random.SeedSequence([0, 0, 0]))
    for i in range(3):
        stored = FileSource([tmp_path / "train"], loss_on="target").example(i)
        fresh = encode_trace(system, draw_trace(system, rng))
        assert stored.name.endswith(f"train/{i:09d}.bin")
        assert np.array_equal(stored.ids, fresh.ids)
        assert np.array_equal(stored.loss_mask, fresh.loss_mask)


def test_shards_unpack_to_the_bgpt_layout(tmp_path):
    system = life(max_steps=2)
    write_system_dataset(tmp_path / "s", system, **DATASET)
    write_system_dataset(tmp_path / "b", system, **DATASET, layout="bgpt")
    shards, files = files_of(tmp_path / "s"), files_of(tmp_path / "b")
    assert shards == files and len(files) == 32
    assert sorted(files)[:2] == ["test/000000000.life", "test/000000001.life"]
    assert "train/000000024.life" in files and "test/000000006.life" in files


@pytest.mark.parametrize("layout", ["shards", "bgpt"])
def test_stored_bytes_depend_neither_on_workers_nor_on_slices(tmp_path, layout):
    system = rule110(max_steps=4)
    write_system_dataset(tmp_path / "one", system, **DATASET, layout=layout)
    write_system_dataset(tmp_path / "two", system, **DATASET, layout=layout, workers=2)
    for index in range(3):
        sliced = {"num_shards": 3, "shard_index": index, "layout": layout}
        write_system_dataset(tmp_path / "sliced", system, **DATASET, **sliced)
    whole = files_of(tmp_path / "one")
    assert files_of(tmp_path / "two") == whole and files_of(tmp_path / "sliced") == whole


def test_an_interrupted_dataset_resumes_where_it_stopped(tmp_path):
    system = rule110(max_steps=4)
    write_system_dataset(tmp_path / "s", system, **DATASET)
    write_system_dataset(tmp_path / "b", system, **DATASET, layout="bgpt")
    before = files_of(tmp_path / "s")
    (tmp_path / "s" / "train" / "shard-00001.tar").unlink()
    (tmp_path / "b" / ".bytesim-block-00002").unlink()  # a block without its marker
    (tmp_path / "b" / "train" / "000000021.rule110").write_bytes(b"partial")
    for layout in ("s", "b"):
        again = write_system_dataset(tmp_path / layout, system, **DATASET, layout=LAYOUTS[layout])
        assert (again.files, again.skipped, again.instances) == (1, 3, 5 if layout == "b" else 10)
        assert files_of(tmp_path / layout) == before


LAYOUTS = {"s": "shards", "b": "bgpt"}


def test_a_trace_that_fails_leaves_no_shard_and_names_the_system(tmp_path):
    calls = []

    def trace(value):
        calls.append(value)
        if len(calls) == 15:
            raise ValueError("no")
        return b"", [bytes(16)] * 2

    system = tiny(trace)
    with pytest.raises(SystemDefinitionError, match="system tiny: trace.. raised ValueError"):
        write_system_dataset(tmp_path, system, **DATASET)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json", "train"]
    assert [p.name for p in (tmp_path / "train").iterdir()] == ["shard-00000.tar"]


@pytest.mark.parametrize(
    ("first", "second", "message"),
    [
        ({"seed": 3}, {"seed": 4}, "other parameters"),
        ({"options": {"max_steps": "4"}}, {}, "other parameters"),
        ({"layout": "bgpt"}, {"layout": "bgpt", "seed": 9}, "other parameters"),
        ({"layout": "bgpt"}, {}, "other parameters"),
        ({}, {"layout": "bgpt"}, "other parameters"),
    ],
)
def test_a_folder_never_holds_two_datasets(tmp_path, first, second, message):
    system = rule110(max_steps=4)
    write_system_dataset(tmp_path, system, **{**DATASET, **first})
    with pytest.raises(DatasetError, match=message):
        write_system_dataset(tmp_path, system, **{**DATASET, **second})


def test_a_cpu_dataset_folder_is_not_a_system_dataset(tmp_path):
    write_shards(tmp_path / "s", 3, 0, shard_size=3)
    with pytest.raises(DatasetError, match="not a bytesim-system-shards/1 manifest"):
        write_system_dataset(tmp_path / "s", rule110(), train=3)
    write_bgpt(tmp_path / "b", 3, 0)
    with pytest.raises(DatasetError, match="holds data but no manifest.json"):
        write_system_dataset(tmp_path / "b", rule110(), train=3, layout="bgpt")


@pytest.mark.parametrize("header", ["a b", "x.y", "tar", "é"])
def test_a_header_that_cannot_end_a_file_name_is_refused(tmp_path, header):
    system = tiny(lambda v: (b"", [bytes(16)] * 2), header=header)
    with pytest.raises(SystemDefinitionError, match="system tiny: header .* cannot end a file"):
        write_system_dataset(tmp_path, system, train=1)
    assert not tmp_path.joinpath("manifest.json").exists()
