"""The feature heads beside a tune classifier: its size, how it is fitted when training
ends (regression on the training files, mixing weight on the held-out ones), that the
checkpoint keeps it, and that classify, eval and the fit all read the same mixture."""

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from bytesim import checkpoint as ckpt
from bytesim.classify import classify_files, load_classifier
from bytesim.data import collate, encode_file
from bytesim.features import ABSENT, MIX_GRID, fit_feature_head, midi_features
from bytesim.model import BGPT, FEATURE_SETS, PRESETS
from cli.main import cli

JIG = "X:1\nM:6/8\nL:1/8\nK:{k}\n{body}\n"
REEL = "X:1\nM:C|\nL:1/8\nK:{k}\n{body}\n"
JIG_BODIES = ["FAd fed|cBA dAF|GBd gfe|dcB AFD|", "dfa afd|cec ABc|dfa agf|ecA d3|"]
REEL_BODIES = ["FAAB AFED|FAAB d2cB|AFAB dfed|BdAF E2D2|", "d2fd efdB|ADFA BAFA|d2fd efdB|AFEF D4|"]


def tune_midi(kind: str, i: int) -> bytes:
    from convert import abc_to_midi

    keys = ["D", "G", "A", "C", "F", "E"]
    text = (JIG if kind == "jig" else REEL).format(
        k=keys[i % len(keys)], body=(JIG_BODIES if kind == "jig" else REEL_BODIES)[i % 2]
    )
    return abc_to_midi(text)


def tiny_tune_classifier(labels=("jig", "reel"), features="phrases") -> BGPT:
    torch.manual_seed(0)
    config = PRESETS["tiny"].with_overrides(
        num_labels=len(labels), input_form="canonical-tune", features=features
    )
    model = BGPT(config).eval()
    model.labels = list(labels)
    return model


def example(kind: str, i: int, labels=("jig", "reel")):
    e = encode_file(tune_midi(kind, i), "mid", name=f"{kind}{i}.mid")
    e.label = list(labels).index(kind)
    return e


@pytest.mark.parametrize("feature_set", ["rhythm", "phrases"])
def test_each_set_has_as_many_features_as_tune_features_gives(feature_set):
    x = midi_features("a.mid", tune_midi("jig", 0), feature_set)
    assert x.shape == (FEATURE_SETS[feature_set],)
    assert midi_features("a.mid", tune_midi("jig", 0))[:138].tolist() == (
        midi_features("a.mid", tune_midi("jig", 0), "rhythm").tolist()
    )


def test_features_need_the_canonical_tune_form_and_a_known_set():
    with pytest.raises(ValueError, match="input_form=canonical-tune"):
        PRESETS["tiny"].with_overrides(num_labels=2, features="rhythm")
    with pytest.raises(ValueError, match="features must be one of"):
        PRESETS["tiny"].with_overrides(num_labels=2, input_form="canonical-tune", features="melody")


def test_a_head_that_is_not_fitted_leaves_the_byte_model_alone(tmp_path):
    model = tiny_tune_classifier()
    assert not model.feature_head.fitted
    plain = tiny_tune_classifier(features="")
    path = tmp_path / "jig.mid"
    path.write_bytes(tune_midi("jig", 0))
    a = classify_files(model, [path], top=2)[0]
    b = classify_files(plain, [path], top=2)[0]
    assert dict(a.top) == pytest.approx(dict(b.top), abs=1e-6)


def test_fit_chooses_the_mix_on_held_out_files_and_the_regression_on_training_files():
    model = tiny_tune_classifier()
    train = [example(k, i) for k in ("jig", "reel") for i in range(4)]
    held = [example(k, i) for k in ("jig", "reel") for i in range(4, 6)]
    report = fit_feature_head(model, train, held)
    head = model.feature_head
    assert head.fitted and report["mix"] in MIX_GRID and float(head.mix) == report["mix"]
    assert report["held_out"] == 4 and report["train_files"] == 8
    # jigs and reels differ in meter and rhythm: the features alone tell them apart, the
    # untrained byte model cannot, so the mixture leans on the features
    assert report["held_accuracy_features"] == 1.0 and report["mix"] > 0.5
    assert report["held_accuracy_mixed"] == 1.0
    # the regression was fitted on the training files (its standardisation is theirs)
    rows = np.stack(
        [midi_features("f", tune_midi(k, i)) for k in ("jig", "reel") for i in range(4)]
    )
    assert head.mean.numpy() == pytest.approx(rows.mean(0))


def test_a_label_no_training_file_has_gets_no_probability_from_the_features():
    labels = ("jig", "reel", "air")
    model = tiny_tune_classifier(labels)
    train = [example(k, i, labels) for k in ("jig", "reel") for i in range(3)]
    fit_feature_head(model, train, [])
    assert float(model.feature_head.mix) == 0.5  # no held-out files: the even mix
    assert float(model.feature_head.bias[2]) == ABSENT
    p = model.feature_head.probabilities(
        torch.tensor(np.stack([midi_features("f", tune_midi("jig", 0))]))
    )
    assert float(p[0, 2]) < 1e-10


@pytest.mark.parametrize("feature_set", ["rhythm", "phrases"])
def test_the_mixture_is_what_classify_returns(tmp_path, feature_set):
    model = tiny_tune_classifier(features=feature_set)
    fit_feature_head(model, [example(k, i) for k in ("jig", "reel") for i in range(4)], [])
    midi = tune_midi("reel", 1)
    path = tmp_path / "reel.mid"
    path.write_bytes(midi)
    got = dict(classify_files(model, [path], top=2)[0].top)
    from convert.canonical import canonical_midi

    ids, _, _ = collate([encode_file(canonical_midi(midi), "mid")])
    with torch.no_grad():
        logits, _ = model.classify(ids, None, None)
    p_model = torch.softmax(logits.double(), -1)[0]
    x = torch.tensor(midi_features("f", midi, feature_set))[None]
    p_feat = model.feature_head.probabilities(x)[0]
    mixed = 0.5 * p_model + 0.5 * p_feat
    assert got == pytest.approx({"jig": float(mixed[0]), "reel": float(mixed[1])}, abs=1e-5)


def test_train_fits_the_head_at_the_end_and_the_checkpoint_keeps_it(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for k in ("jig", "reel"):
        for i in range(12):
            (data / f"{k}_{i}.mid").write_bytes(tune_midi(k, i))
    runner = CliRunner()
    args = ["train", str(data), "--task", "classify", "--preset", "tiny"]
    args += ["--set", "input_form=canonical-tune", "--set", "features=phrases"]
    args += ["--steps", "2", "--batch-size", "2", "--threads", "1", "--precision", "fp32"]
    args += ["--eval-examples", "4", "--out", str(tmp_path / "run")]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "feature head (phrases) fitted on 23 files" in result.output
    events = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    fitted = [e for e in events if e["event"] == "feature_head"]
    assert len(fitted) == 1 and fitted[0]["held_out"] == 1 and fitted[0]["step"] == 2
    model = load_classifier(tmp_path / "run")
    assert model.feature_head.fitted and float(model.feature_head.mix) == fitted[0]["mix"]
    assert ckpt.read_config(ckpt.resolve(tmp_path / "run"))["features"] == "phrases"
    # a resume of the finished run changes nothing
    before = {k: v.clone() for k, v in model.feature_head.state_dict().items()}
    result = runner.invoke(cli, [*args, "--resume"])
    assert result.exit_code == 0, result.output
    after = load_classifier(tmp_path / "run").feature_head.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    result = runner.invoke(cli, ["eval", str(tmp_path / "run"), str(data), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["examples"] == 24


def test_eval_reads_the_mixture_too():
    from bytesim.evaluate import classification_accuracy

    model = tiny_tune_classifier()
    examples = [example(k, i) for k in ("jig", "reel") for i in range(4)]
    before = classification_accuracy(model, examples)["accuracy"]  # the byte model alone
    fit_feature_head(model, examples, [])
    model.feature_head.mix.fill_(1.0)  # the features alone: they separate these tunes
    assert classification_accuracy(model, examples)["accuracy"] == 1.0 != before


def test_a_new_head_for_other_labels_gets_a_new_unfitted_feature_head():
    from bytesim.train import with_classifier

    model = tiny_tune_classifier()
    fit_feature_head(model, [example(k, i) for k in ("jig", "reel") for i in range(3)], [])
    again = with_classifier(model, ["jig", "reel"], seed=0)
    assert again is model and again.feature_head.fitted  # the same labels: kept
    other = with_classifier(model, ["jig", "reel", "air"], seed=0)
    assert other.feature_head.weight.shape == (FEATURE_SETS["phrases"], 3)
    assert not other.feature_head.fitted
