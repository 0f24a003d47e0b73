"""evaluate(): bits per byte over the original's targets, the file bytes and the task targets."""

import math

import pytest
import torch

from bytesim.data import collate, encode_file, encode_pair
from bytesim.evaluate import evaluate
from bytesim.generate import build_prompt, decode
from bytesim.model import BGPT, PRESETS


@pytest.fixture
def model():
    torch.manual_seed(0)
    return BGPT(PRESETS["tiny"]).eval()


def test_bits_per_byte_is_the_original_loss_in_bits(model):
    examples = [encode_file(b"abc" * 9, "txt"), encode_file(b"z" * 40, "txt")]
    ids, _, _ = collate(examples[:1])
    _, loss = model(ids)
    result = evaluate(model, examples[:1])
    assert result["bits_per_byte"] == pytest.approx(loss.item() / math.log(2), rel=1e-5)
    assert result["bytes"] == len(examples[0].ids) - 16


def test_batch_padding_does_not_change_the_figures(model):
    examples = [encode_file(b"abc" * 9, "txt"), encode_file(b"z" * 40, "dat")]
    one_by_one = evaluate(model, examples, batch_size=1)
    together = evaluate(model, examples, batch_size=2)
    for key in ("bits_per_byte", "bits_per_file_byte", "bytes", "file_bytes"):
        assert together[key] == pytest.approx(one_by_one[key], rel=1e-5)
    assert set(together["per_type"]) == {"txt", "dat"}


def test_file_bytes_and_target_bytes_are_counted_separately(model):
    pair = encode_pair(b"a" * 5, "abc", b"b" * 20, "mid", loss_on="target")
    result = evaluate(model, [pair])
    assert result["file_bytes"] == 25
    assert result["target_bytes"] == 32 + 16  # the target's bytes + padding and the eop patch
    assert result["bytes"] == 16 * 5  # everything after the first header


def test_sequences_longer_than_patch_length_are_cut_and_counted(model):
    result = evaluate(model, [encode_file(bytes(70 * 16), "bin"), encode_file(b"x", "bin")])
    assert result["cut_to_patch_length"] == 1
    assert result["bytes"] == 63 * 16 + 2 * 16


@pytest.mark.parametrize(
    ("data", "to_ext", "patches"), [(None, None, 1), (b"hello", None, 2), (b"hi", "mid", 3)]
)
def test_prompt_layout(data, to_ext, patches):
    assert len(build_prompt("txt", data, to_ext)) == patches * 16


def test_decode_drops_padding_and_stops_at_the_eop_patch():
    seq = torch.tensor([1] * 16 + [104, 105] + [256] * 14 + [256] * 16 + [7] * 16)
    assert decode(seq, 16) == (b"hi", True)
    assert decode(seq[:32], 16) == (b"hi", False)
