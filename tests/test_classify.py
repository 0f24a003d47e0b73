"""Classification: classify_files and its errors, the classifier head on --init, label counts in
the checkpoint, the majority-class baseline, and a tiny end-to-end run from ABC tunes."""

import json

import pytest
import torch
from click.testing import CliRunner

from bytesim import checkpoint as ckpt
from bytesim.classify import ClassifyError, classify_files, load_classifier, max_file_bytes
from bytesim.data import collate, encode_file
from bytesim.evaluate import classification_accuracy
from bytesim.model import BGPT, PRESETS
from bytesim.train import TrainConfig, train, with_classifier
from cli.main import cli

LABELS = ["jig", "reel", "air"]


def tiny(**overrides) -> BGPT:
    torch.manual_seed(0)
    return BGPT(PRESETS["tiny"].with_overrides(**overrides)).eval()


def classifier(labels=LABELS) -> BGPT:
    model = tiny(num_labels=len(labels))
    model.labels = list(labels)
    return model


def always(model: BGPT, label: str) -> BGPT:
    """Make the model answer `label` for every input (zero weights, one positive bias)."""
    with torch.no_grad():
        model.classifier.weight.zero_()
        model.classifier.bias.zero_()
        model.classifier.bias[model.labels.index(label)] = 5.0
    return model


def write_files(folder, names, size=40):
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, name in enumerate(names):
        path = folder / name
        path.write_bytes(bytes((i * 7 + j) % 256 for j in range(size)))
        paths.append(path)
    return paths


# ----------------------------------------------------------------------------- classify_files


def test_one_prediction_per_file_in_order_with_ranked_probabilities(tmp_path):
    paths = write_files(tmp_path, [f"f{i}.mid" for i in range(5)])
    predictions = classify_files(classifier(), paths, batch_size=2, top=3)
    assert [p.path for p in predictions] == [str(p) for p in paths]
    for p in predictions:
        probs = [v for _, v in p.top]
        assert probs == sorted(probs, reverse=True)
        assert sum(probs) == pytest.approx(1.0, abs=1e-5)
        assert p.top[0] == (p.label, p.probability)
        assert sorted(k for k, _ in p.top) == sorted(LABELS)


def test_the_batch_size_does_not_change_the_predictions(tmp_path):
    paths = write_files(tmp_path, [f"f{i}.mid" for i in range(5)])
    one = classify_files(classifier(), paths, batch_size=1, top=3)
    many = classify_files(classifier(), paths, batch_size=8, top=3)
    for a, b in zip(one, many, strict=True):
        assert a.label == b.label
        assert a.probability == pytest.approx(b.probability, abs=1e-5)


@pytest.mark.parametrize(("top", "shown"), [(1, 1), (2, 2), (3, 3), (10, 3)])
def test_top_k_is_capped_by_the_number_of_labels(tmp_path, top, shown):
    paths = write_files(tmp_path, ["a.mid"])
    assert len(classify_files(classifier(), paths, top=top)[0].top) == shown


def test_a_model_without_a_classification_head_is_an_error(tmp_path):
    paths = write_files(tmp_path, ["a.mid"])
    with pytest.raises(ClassifyError, match="no classification head"):
        classify_files(tiny(), paths)


@pytest.mark.parametrize(("extra", "ok"), [(-1, True), (0, True), (1, False)])
def test_files_up_to_the_models_length_are_taken_longer_ones_are_an_error(tmp_path, extra, ok):
    model = classifier()
    assert max_file_bytes(model) == (64 - 2) * 16
    path = write_files(tmp_path, ["long.mid"], size=max_file_bytes(model) + extra)[0]
    if ok:
        assert classify_files(model, [path])[0].path == str(path)
    else:
        with pytest.raises(ClassifyError, match=r"long\.mid: 993 bytes, longer than the 992"):
            classify_files(model, [path])


def test_an_unreadable_file_is_an_error_naming_it(tmp_path):
    with pytest.raises(ClassifyError, match=r"missing\.mid: cannot read"):
        classify_files(classifier(), [tmp_path / "missing.mid"])


# ----------------------------------------------------------------------------- CLI


@pytest.fixture
def saved(tmp_path):
    model = always(classifier(), "reel")
    ckpt.save_model(model, tmp_path / "cls", {"labels": LABELS, "label_counts": {"jig": 9}})
    ckpt.save_model(tiny(), tmp_path / "gen", {"labels": []})
    return tmp_path


def test_cli_prints_one_line_per_file_with_label_and_probability(saved):
    paths = write_files(saved / "data", ["a.mid", "b.mid"])
    result = CliRunner().invoke(cli, ["classify", str(saved / "cls"), *map(str, paths)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [ln.split("\t")[0] for ln in lines] == [str(p) for p in paths]
    assert all(ln.split("\t")[1].startswith("reel 0.9") for ln in lines)


def test_cli_json_lists_the_top_labels(saved):
    path = write_files(saved / "data", ["a.mid"])[0]
    result = CliRunner().invoke(
        cli, ["classify", str(saved / "cls"), str(path), "--top", "2", "--json"]
    )
    rows = json.loads(result.stdout)
    assert rows[0]["label"] == "reel" and len(rows[0]["top"]) == 2


@pytest.mark.parametrize(
    ("model", "file", "message"),
    [
        ("gen", "a.mid", "has no classification head"),
        ("nowhere", "a.mid", "no such model directory"),
        ("cls", "missing.mid", "missing.mid: cannot read"),
        ("cls", "long.mid", "long.mid: 2000 bytes, longer than the 992 bytes"),
    ],
)
def test_cli_errors_are_one_line_and_a_nonzero_exit(saved, model, file, message):
    write_files(saved / "data", ["a.mid"])
    write_files(saved / "data", ["long.mid"], size=2000)
    result = CliRunner().invoke(cli, ["classify", str(saved / model), str(saved / "data" / file)])
    assert result.exit_code == 1
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_load_classifier_reads_the_training_label_counts(saved):
    assert load_classifier(saved / "cls").label_counts == {"jig": 9}


# ----------------------------------------------------------------------------- baseline


def labelled(model: BGPT, labels: list[str]):
    out = []
    for i, name in enumerate(labels):
        example = encode_file(bytes([i]) * 30, "mid")
        example.label = model.labels.index(name)
        out.append(example)
    return out


def test_baseline_uses_the_training_majority_on_the_evaluated_files():
    model = always(classifier(), "reel")
    examples = labelled(model, ["jig", "reel", "reel", "air", "air", "air"])
    r = classification_accuracy(model, examples, 4, label_counts={"jig": 50, "reel": 40, "air": 1})
    assert r["accuracy"] == pytest.approx(2 / 6)
    assert r["majority_label"] == "jig" and r["baseline_from"] == "training label counts"
    assert r["majority_baseline"] == pytest.approx(1 / 6)


def test_baseline_falls_back_to_the_evaluated_files_majority():
    model = always(classifier(), "reel")
    examples = labelled(model, ["jig", "reel", "reel", "air", "air", "air"])
    r = classification_accuracy(model, examples, 4)
    assert r["majority_label"] == "air" and r["baseline_from"] == "evaluated label counts"
    assert r["majority_baseline"] == pytest.approx(3 / 6)


def test_model_label_counts_are_the_default_counts():
    model = always(classifier(), "reel")
    model.label_counts = {"reel": 3, "air": 1}
    examples = labelled(model, ["jig", "reel", "air", "air"])
    r = classification_accuracy(model, examples)
    assert r["majority_label"] == "reel" and r["majority_baseline"] == pytest.approx(1 / 4)


def test_per_class_accuracy_and_confusion_add_up():
    model = always(classifier(), "reel")
    examples = labelled(model, ["jig", "reel", "reel", "air"])
    r = classification_accuracy(model, examples, 3)
    assert r["per_class"] == {
        "jig": {"examples": 1, "correct": 0, "accuracy": 0.0},
        "reel": {"examples": 2, "correct": 2, "accuracy": 1.0},
        "air": {"examples": 1, "correct": 0, "accuracy": 0.0},
    }
    assert r["confusion"] == {"jig": {"reel": 1}, "reel": {"reel": 2}, "air": {"reel": 1}}


# ----------------------------------------------------------------------------- training


def test_init_from_a_generative_model_adds_a_head_and_keeps_the_decoder():
    generative = tiny()
    model = with_classifier(generative, ["a", "b"], seed=0)
    assert model.config.num_labels == 2 and model.labels == ["a", "b"]
    before, after = generative.state_dict(), model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert set(after) - set(before) == {"classifier.weight", "classifier.bias"}


def test_a_head_for_the_same_labels_is_kept_another_is_replaced():
    model = classifier()
    assert with_classifier(model, LABELS, seed=0) is model
    other = with_classifier(model, ["x", "y"], seed=0)
    assert other.config.num_labels == 2 and other.labels == ["x", "y"]


def train_config(out, data, **kw):
    base = dict(
        preset="tiny",
        steps=2,
        warmup=1,
        lr=3e-3,
        batch_size=4,
        threads=1,
        eval_every=100,
        eval_examples=4,
        save_every=100,
        precision="fp32",
    )
    return TrainConfig(out=str(out), data=[str(d) for d in data], **{**base, **kw})


def test_classify_training_saves_the_training_label_counts(tmp_path):
    write_files(tmp_path / "data", [f"{k}_{i}.mid" for i, k in enumerate("aaaaabbbbbbbbbbbbbbc")])
    train(train_config(tmp_path / "run", [tmp_path / "data"], task="classify"))
    config = ckpt.read_config(ckpt.resolve(tmp_path / "run"))
    held = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[0])
    assert held["eval_examples"] == 1  # 5 % of 20 files held out
    counts = config["label_counts"]
    everything = {"a": 5, "b": 14, "c": 1}
    assert sorted(everything[k] - counts[k] for k in everything) == [0, 0, 1]


def test_eval_data_given_counts_every_training_file(tmp_path):
    write_files(tmp_path / "train", ["a_1.mid", "a_2.mid", "b_1.mid"])
    write_files(tmp_path / "test", ["a_3.mid", "b_2.mid"])
    cfg = train_config(
        tmp_path / "run",
        [tmp_path / "train"],
        task="classify",
        eval_data=[str(tmp_path / "test")],
        eval_every=2,
    )
    train(cfg)
    config = ckpt.read_config(ckpt.resolve(tmp_path / "run"))
    assert config["label_counts"] == {"a": 2, "b": 1}
    evals = [json.loads(ln) for ln in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    last = [e for e in evals if e["event"] == "eval"][-1]
    assert last["majority_baseline"] == 0.5  # always "a" is right on one of the two test files


# ----------------------------------------------------------------------------- end to end

TUNES = {
    "reel": [
        "DFAF dFAF|GBdB gBdB|",
        "GABG dGBG|cABG AGEF|",
        "ABcA eAcA|dBcA BAFA|",
        "FAdA FAdA|GBdB GBdB|",
    ],
    "jig": ["DFA dAF|GBd gdB|", "GBd gdB|cea gfe|", "Ace aec|dfa fdB|", "FAd fdA|GBd gdB|"],
}


def test_tunes_to_dataset_to_classifier_to_predictions(tmp_path):
    text = ""
    for kind, bodies in TUNES.items():
        meter = "6/8" if kind == "jig" else "4/4"
        for body in bodies:
            text += f"X:{len(text)}\nT:The {kind}\nR:{kind}\nM:{meter}\nL:1/8\nK:D\n{body}\n\n"
    (tmp_path / "abc").mkdir()
    (tmp_path / "abc" / "tunes.abc").write_text(text)
    runner = CliRunner()
    data = tmp_path / "data"
    result = runner.invoke(
        cli,
        [
            "gen-tune-types",
            str(data),
            "--source",
            str(tmp_path / "abc"),
            "--min-count",
            "2",
            "--test-fraction",
            "0.25",
        ],
    )
    assert result.exit_code == 0, result.output
    common = [
        "--steps",
        "3",
        "--warmup",
        "1",
        "--batch-size",
        "2",
        "--threads",
        "1",
        "--precision",
        "fp32",
    ]
    result = runner.invoke(
        cli,
        ["train", str(data / "train"), "--out", str(tmp_path / "gen"), "--preset", "tiny", *common],
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        cli,
        [
            "train",
            str(data / "train"),
            "--out",
            str(tmp_path / "cls"),
            "--task",
            "classify",
            "--init",
            str(tmp_path / "gen"),
            "--eval-data",
            str(data / "test"),
            *common,
        ],
    )
    assert result.exit_code == 0, result.output
    assert ckpt.read_config(ckpt.resolve(tmp_path / "cls"))["label_counts"] == {"jig": 3, "reel": 3}
    tests = sorted((data / "test").glob("*.mid"))
    result = runner.invoke(cli, ["classify", str(tmp_path / "cls"), *map(str, tests), "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["path"] for r in rows] == [str(p) for p in tests]
    assert all(r["label"] in ("jig", "reel") for r in rows)
    result = runner.invoke(cli, ["eval", str(tmp_path / "cls"), str(data / "test"), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["examples"] == 2 and report["majority_baseline"] == 0.5


# ----------------------------------------------------------------------------- canonical tunes

JIG = "X:{x}\nT:Jig\nM:{m}\nL:1/8\nK:{k}\nFAd fed|cBA dAF|GBd gfe|dcB AFD|\n"


def tune_classifier() -> BGPT:
    model = tiny(num_labels=3, input_form="canonical-tune")
    model.labels = list(LABELS)
    return model


def test_an_abc_file_gives_one_prediction_per_tune_and_the_writing_does_not_matter(tmp_path):
    from convert import abc_to_midi

    abc = tmp_path / "tunes.abc"
    abc.write_text(JIG.format(x=1, m="6/8", k="D") + "\n" + JIG.format(x=7, m="12/8", k="D"))
    mid = tmp_path / "jig.mid"  # a fifth up, notes twice as long, another tempo
    mid.write_bytes(
        abc_to_midi("X:1\nM:6/4\nL:1/4\nQ:1/4=200\nK:A\ncea c'ba|gfe aec|dfa d'c'b|agf ecA|\n")
    )
    out = classify_files(tune_classifier(), [abc, mid], top=3)
    assert [p.path for p in out] == [f"{abc}#1", f"{abc}#7", str(mid)]
    first = dict(out[0].top)
    assert dict(out[1].top) == pytest.approx(first) and dict(out[2].top) == pytest.approx(first)


def test_a_long_tune_is_classified_from_windows_weighted_by_length(tmp_path):
    from convert import abc_to_midi
    from convert.canonical import canonical_windows

    model = tune_classifier()
    midi = abc_to_midi("X:1\nM:6/8\nL:1/8\nK:D\n" + "FAd fed|cBA dAF|GBd gfe|dcB AFD|\n" * 20)
    path = tmp_path / "long.mid"
    path.write_bytes(midi)
    windows = canonical_windows(midi, max_file_bytes(model))
    assert len(windows) > 1
    probs = []
    for w in windows:  # each window as the model sees it (not canonicalised again)
        ids, _, _ = collate([encode_file(w, "mid")])
        logits, _ = model.classify(ids, None, None)
        probs.append(torch.softmax(logits[0].float(), -1).tolist())
    mean = {
        k: sum(len(w) * p[i] for w, p in zip(windows, probs, strict=True)) / sum(map(len, windows))
        for i, k in enumerate(model.labels)
    }
    whole = classify_files(model, [path], top=3)[0]
    assert dict(whole.top) == pytest.approx(mean, abs=1e-5)


def test_one_bad_file_is_reported_and_the_others_classified(tmp_path):
    from convert import abc_to_midi

    good = tmp_path / "good.mid"
    good.write_bytes(abc_to_midi(JIG.format(x=1, m="6/8", k="D")))
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"not midi at all")
    errors = []
    out = classify_files(
        tune_classifier(), [bad, good], on_error=lambda p, m: errors.append((p, m))
    )
    assert [p.path for p in out] == [str(good)]
    assert errors and errors[0][0] == str(bad) and "not a readable MIDI file" in errors[0][1]
    with pytest.raises(ClassifyError, match="bad.mid"):
        classify_files(tune_classifier(), [bad, good])


def test_cli_reports_a_bad_file_classifies_the_rest_and_exits_1(tmp_path):
    from convert import abc_to_midi

    ckpt.save_model(tune_classifier(), tmp_path / "tt", {"labels": LABELS})
    good = tmp_path / "good.mid"
    good.write_bytes(abc_to_midi(JIG.format(x=1, m="6/8", k="D")))
    (tmp_path / "bad.abc").write_text("X:1\nK:Q\nCDE|\n")
    args = ["classify", str(tmp_path / "bad.abc"), str(good), "--model", str(tmp_path / "tt")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1
    assert result.stdout.startswith(f"{good}\t")
    assert "bad.abc: tune X:1 (line 1)" in result.stderr
    assert "Traceback" not in result.output


# ----------------------------------------------------------------------------- the shipped model

SHIPPED_TUNES = """X:1
M:6/8
L:1/8
K:D
|:FAd fed|cBA dAF|GBd gfe|dcB AFD|FAd fed|cBA dAF|GBd gfe|fdc d3:|

X:2
M:12/8
L:1/16
K:G
|:B2d2g2 b2a2g2|f2e2d2 g2d2B2|c2e2g2 c'2b2a2|g2f2e2 d2B2G2|B2d2g2 b2a2g2|f2e2d2 g2d2B2|\
c2e2g2 c'2b2a2|b2g2f2 g6:|

X:3
M:9/8
L:1/8
K:G
|:GBd gdB GBd|c2A BGE DEF|GBd gdB GBd|cAF G3 G2:|
"""


def test_the_shipped_classifier_names_a_jig_however_written_and_a_slip_jig(tmp_path):
    path = tmp_path / "tunes.abc"
    path.write_text(SHIPPED_TUNES)
    result = CliRunner().invoke(cli, ["classify", str(path), "--top", "6", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["label"] for r in rows] == ["jig", "jig", "slip-jig"]
    assert rows[0]["top"] == rows[1]["top"]  # 6/8 in D and 12/8 in G, unit 1/8 and 1/16
    assert all(r["probability"] > 0.5 for r in rows)
