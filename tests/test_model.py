"""The bGPT model: shapes, loss, causality, masks, generation with and without caches."""

import math

import pytest
import torch
import torch.nn.functional as F

from bytesim.model import BGPT, EOP, PRESETS, ModelConfig, _bit_signs

MODES = ["none", "add", "prefix", "none+retrieve", "prefix+retrieve", "prefix+retrieve+bits"]


def tiny(**overrides) -> BGPT:
    """A tiny model; prev_patch "MODE+retrieve" also turns on the retrieval copy path, "+bits"
    the bit features (given random weights here, as if trained, so that they matter)."""
    mode, *extras = overrides.get("prev_patch", "none").split("+")
    overrides.update(prev_patch=mode, retrieve="retrieve" in extras, bit_features="bits" in extras)
    torch.manual_seed(0)
    model = BGPT(PRESETS["tiny"].with_overrides(**overrides)).eval()
    if model.config.bit_features:
        with torch.no_grad():
            model.bit_in.weight.normal_(std=0.02)
            model.bit_out.weight.normal_(std=0.02)
    return model


def random_ids(batch=2, patches=5, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 257, (batch, patches * 16), generator=g)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("byte_hidden_size", [None, 16])
def test_forward_shapes_and_loss_at_init_is_about_ln_257(mode, byte_hidden_size):
    model = tiny(prev_patch=mode, byte_hidden_size=byte_hidden_size)
    logits, loss = model(random_ids(batch=3, patches=6))
    assert logits.shape == (3, 5, 16, 257)
    assert abs(loss.item() - math.log(257)) < 0.1


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("changed", [16, 37, 47, 48, 78])
def test_changing_byte_t_leaves_predictions_of_bytes_up_to_t_unchanged(mode, changed):
    model = tiny(prev_patch=mode)
    ids = random_ids(patches=5)
    other = ids.clone()
    other[:, changed] = (other[:, changed] + 1) % 257
    a = model(ids)[0].reshape(2, -1, 257)  # target j is byte 16 + j
    b = model(other)[0].reshape(2, -1, 257)
    t = changed - 16
    assert torch.equal(a[:, : t + 1], b[:, : t + 1])
    assert not torch.allclose(a[:, t + 1 :], b[:, t + 1 :])


def test_loss_is_mean_cross_entropy_over_counted_targets_only():
    model = tiny()
    ids = random_ids(patches=4)
    mask = torch.zeros_like(ids, dtype=torch.bool)
    mask[:, :16] = True  # the header is never a target, even when marked
    mask[0, 20:25] = True
    mask[1, 60:64] = True
    full_logits, _ = model(ids)
    logits, loss = model(ids, mask)
    counted = mask.clone()
    counted[:, :16] = False
    flat = full_logits.reshape(2, -1, 257)[counted[:, 16:]]
    expected = F.cross_entropy(flat, ids[counted])
    assert torch.allclose(loss, expected, atol=1e-6)
    # patches with a counted target have the same logits; the others are not computed (zeros)
    assert torch.allclose(logits[0, 0], full_logits[0, 0], atol=1e-6)
    assert torch.count_nonzero(logits[0, 1]) == 0


@pytest.mark.parametrize("masked", [False, True])
def test_changed_weight_counts_bytes_unlike_the_patch_before_that_many_times(masked):
    model = tiny()
    with torch.no_grad():  # large random weights: bytes with very different losses
        for p in model.parameters():
            p.normal_(0, 0.3)
    ids = random_ids(patches=4)
    ids[:, 32:40] = ids[:, 16:24]  # patch 2 repeats half of patch 1: those bytes are unchanged
    mask = torch.ones_like(ids, dtype=torch.bool)
    if masked:
        mask[0, 40:64] = False
    logits, plain = model(ids, mask)
    assert torch.equal(model(ids, mask, changed_weight=1.0)[1], plain)
    _, weighted = model(ids, mask, changed_weight=3.0)
    targets = ids.view(2, 4, 16)[:, 1:]
    prev = ids.view(2, 4, 16)[:, :-1]
    nats = F.cross_entropy(logits.reshape(-1, 257), targets.reshape(-1), reduction="none")
    weights = torch.where(targets != prev, 3.0, 1.0).reshape(-1) * mask.view(2, 4, 16)[
        :, 1:
    ].reshape(-1)
    assert torch.allclose(weighted, (nats * weights).sum() / weights.sum(), atol=1e-6)
    assert (weights == 3).any() and (weights == 1).any()
    assert abs(weighted.item() - plain.item()) > 1e-3


def test_an_all_false_mask_gives_a_zero_loss_that_still_backpropagates():
    model = tiny()
    ids = random_ids()
    _, loss = model(ids, torch.zeros_like(ids, dtype=torch.bool))
    loss.backward()
    assert loss.item() == 0.0


@pytest.mark.parametrize("length", [0, 16, 40, 17 * 16 + 8])
def test_forward_rejects_lengths_that_are_not_whole_patches(length):
    with pytest.raises(ValueError, match="multiple of 16"):
        tiny()(torch.zeros(1, length, dtype=torch.long))


def test_forward_rejects_sequences_longer_than_patch_length():
    with pytest.raises(ValueError, match="exceed patch_length"):
        tiny()(torch.zeros(1, 65 * 16, dtype=torch.long))


@pytest.mark.parametrize("mode", MODES)
def test_overfits_one_tiny_batch(mode):
    model = tiny(prev_patch=mode).train()
    ids = random_ids(batch=2, patches=3)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-2)
    for _ in range(60):
        _, loss = model(ids)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.1


def test_patch_embedding_equals_one_hot_times_linear():
    model = tiny()
    patches = random_ids(batch=1, patches=3).view(3, 16)
    onehot = F.one_hot(patches, 257).float().reshape(3, 16 * 257)
    expected = onehot @ model.patch_embed + model.patch_bias
    assert torch.allclose(model.embed_patches(patches), expected, atol=1e-6)


def test_classification_head_gives_one_logit_row_per_sequence():
    model = tiny(num_labels=3)
    logits, loss = model.classify(random_ids(batch=4), torch.tensor([0, 1, 2, 0]))
    assert logits.shape == (4, 3)
    assert abs(loss.item() - math.log(3)) < 0.2


def test_classify_without_a_head_is_an_error():
    with pytest.raises(ValueError, match="no classification head"):
        tiny().classify(random_ids())


# ----------------------------------------------------------------------------- config


def test_config_from_dict_ignores_unknown_fields_and_defaults_missing_ones():
    config = ModelConfig.from_dict({"hidden_size": 64, "heads": 4, "added_in_2030": True})
    assert config.hidden_size == 64
    assert config.prev_patch == "none"


def test_config_round_trips_through_a_dict():
    config = PRESETS["small"].with_overrides(prev_patch="prefix", byte_hidden_size=128)
    assert ModelConfig.from_dict(config.to_dict()) == config


@pytest.mark.parametrize(
    "overrides",
    [
        {"prev_patch": "copy"},
        {"retrieve": "yes"},
        {"bit_features": 1},
        {"patch_size": 8},
        {"vocab_size": 256},
        {"hidden_size": 33},
    ],
)
def test_invalid_configs_are_rejected(overrides):
    with pytest.raises(ValueError):
        PRESETS["tiny"].with_overrides(**overrides)


# ----------------------------------------------------------------------------- generation


@pytest.mark.parametrize("mode", MODES)
def test_cached_generation_equals_uncached_for_prompts_of_different_lengths(mode):
    model = tiny(prev_patch=mode, byte_hidden_size=16)
    ids = random_ids(batch=3, patches=4)
    prompts = [ids[0, :16], ids[1, :48], ids[2, :32].tolist()]
    cached = model.generate(prompts, max_patches=8)
    uncached = model.generate(prompts, max_patches=8, use_cache=False)
    for a, b in zip(cached, uncached, strict=True):
        assert torch.equal(a, b)
    assert all(len(s) % 16 == 0 and len(s) <= 8 * 16 for s in cached)


@pytest.mark.parametrize("mode", MODES)
def test_drafted_greedy_generation_equals_step_by_step(mode):
    model = tiny(prev_patch=mode, byte_hidden_size=16)
    ids = random_ids(batch=3, patches=4, seed=2)
    prompts = [ids[0, :16], ids[1, :48], ids[2, :32]]
    plain = model.generate(prompts, max_patches=8)
    drafted = model.generate(prompts, max_patches=8, draft=True)
    alone = model.generate(prompts[1:2], max_patches=8, draft=True)
    for a, b in zip(plain, drafted, strict=True):
        assert torch.equal(a, b)
    assert torch.equal(alone[0], plain[1])
    sampled = model.generate(prompts, 6, temperature=1.0, seed=3)  # sampling ignores draft
    assert all(
        torch.equal(a, b)
        for a, b in zip(
            sampled, model.generate(prompts, 6, temperature=1.0, seed=3, draft=True), strict=True
        )
    )


def test_a_draft_that_is_right_is_kept_in_one_pass():
    """With the byte decoder's logits always favouring the previous patch's byte, each patch
    repeats the prompt's last and takes a single pass of the byte decoder."""
    model = tiny(prev_patch="prefix", byte_hidden_size=16)
    prompt = random_ids(batch=1, patches=2, seed=4)[0].clamp(max=255)
    last = prompt[-16:]
    passes = []
    forward = model.byte.forward

    def counted(*args, **kwargs):
        passes.append(args[0].size(1))
        return forward(*args, **kwargs)

    def copying(h):  # the logits of the byte at each position: the last patch's byte wins
        logits = torch.zeros(*h.shape[:-1], 257)
        index = last[: h.size(1)] if h.dim() == 3 else last[:1].expand(h.size(0))
        return logits.scatter(-1, index.expand(*h.shape[:-1])[..., None], 1.0)

    model.byte.forward, model.byte_logits = counted, copying
    out = model.generate([prompt], max_patches=5, draft=True)[0]
    assert torch.equal(out[32:], last.repeat(3))
    assert passes == [model.prefix + 16] * 3  # one pass of prefix, feature and 15 bytes each


@pytest.mark.parametrize("mode", MODES)
def test_steered_patches_are_put_in_and_the_rest_is_what_the_model_writes_after_them(mode):
    model = tiny(prev_patch=mode, byte_hidden_size=16)
    ids = random_ids(batch=2, patches=4)
    prompts = [ids[0, :16], ids[1, :32]]
    put = torch.arange(32).view(2, 16) + 100  # row r gets patch `put[r]` as its 3rd new patch

    def steer(index, new):
        forced = torch.full((2, 16), -1)
        steer.calls += 1
        if steer.calls == 2:
            forced[:] = put
        return forced

    steer.calls = 0
    steered = model.generate(prompts, max_patches=8, steer=steer)
    for r, (prompt, seq) in enumerate(zip(prompts, steered, strict=True)):
        start = len(prompt) + 2 * 16
        assert torch.equal(seq[start : start + 16], put[r])
        written_after = model.generate([seq[: start + 16]], max_patches=8, use_cache=False)[0]
        assert torch.equal(seq, written_after)


@pytest.mark.parametrize(
    "sampling", [{}, {"top_k": 5}, {"top_p": 0.8}, {"top_k": 50, "top_p": 0.9}]
)
def test_cached_sampling_equals_uncached_with_the_same_seed(sampling):
    model = tiny(prev_patch="add")
    prompt = [random_ids(batch=1, patches=2)[0]]
    a = model.generate(prompt, 6, temperature=1.0, seed=7, **sampling)
    b = model.generate(prompt, 6, temperature=1.0, seed=7, use_cache=False, **sampling)
    assert torch.equal(a[0], b[0])


def test_generation_is_deterministic_for_a_seed_and_varies_with_it():
    model = tiny()
    prompt = [random_ids(batch=1, patches=2)[0]]
    runs = [model.generate(prompt, 6, temperature=1.5, seed=s)[0] for s in (3, 3, 4)]
    assert torch.equal(runs[0], runs[1])
    assert not torch.equal(runs[0], runs[2])


def test_top_k_of_one_is_greedy():
    model = tiny()
    prompt = [random_ids(batch=1, patches=2)[0]]
    greedy = model.generate(prompt, 5)[0]
    assert torch.equal(model.generate(prompt, 5, temperature=0.7, top_k=1, seed=9)[0], greedy)


def test_prompt_is_kept_and_generation_stops_at_max_patches():
    model = tiny()
    head = model.byte_logits
    model.byte_logits = lambda h: head(h) - 100 * F.one_hot(torch.tensor(EOP), 257)  # never <eop>
    prompt = random_ids(batch=1, patches=2)[0]
    out = model.generate([prompt], 5)[0]
    assert torch.equal(out[:32], prompt)
    assert len(out) == 5 * 16


def test_an_all_eop_patch_ends_a_sequence():
    model = tiny()
    head = model.byte_logits
    model.byte_logits = lambda h: head(h) + 100 * F.one_hot(torch.tensor(EOP), 257)  # <eop> wins
    out = model.generate([random_ids(batch=1, patches=2)[0]], 10)[0]
    assert len(out) == 3 * 16 and bool((out[32:] == EOP).all())


def test_stop_callback_ends_the_sequences_it_marks():
    model = tiny()
    prompts = list(random_ids(batch=3, patches=2))
    calls = []

    def stop(index, patches):
        calls.append((index, patches.shape))
        return (
            torch.tensor([True, False, False]) if index == 2 else torch.zeros(3, dtype=torch.bool)
        )

    out = model.generate(prompts, 6, stop=stop)
    assert len(out[0]) == 3 * 16
    assert calls[0] == (2, (3, 16))
    assert all(len(s) <= 6 * 16 for s in out)


def test_generate_rejects_prompts_that_are_not_whole_patches():
    with pytest.raises(ValueError, match="prompt 0"):
        tiny().generate([torch.zeros(20, dtype=torch.long)], 4)


def test_generate_rejects_max_patches_beyond_patch_length():
    with pytest.raises(ValueError, match="patch_length"):
        tiny().generate([torch.zeros(16, dtype=torch.long)], 65)


@pytest.mark.slow
def test_paper_preset_trains_one_step_and_generates_one_patch():
    torch.manual_seed(0)
    model = BGPT(PRESETS["paper"])
    assert 100e6 < model.num_parameters() < 120e6
    ids = random_ids(batch=1, patches=3)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5)
    _, loss = model(ids)
    loss.backward()
    opt.step()
    assert math.isfinite(loss.item())
    out = model.generate([ids[0, :32]], 3)[0]
    assert len(out) == 48 and int(out.max()) <= 256


@pytest.mark.parametrize("mode", ["add", "prefix+retrieve"])
def test_teacher_forced_guesses_equal_the_first_greedy_patch(mode):
    model = tiny(prev_patch=mode)
    ids = random_ids(batch=2, patches=4)
    guesses = model.teacher_forced(ids)
    assert guesses.shape == (2, 3, 16)
    generated = model.generate([ids[0, :48]], 4)[0]
    assert torch.equal(guesses[0, 2, 0], generated[48])  # the first byte sees only true bytes


@pytest.mark.parametrize("mode", ["add", "prefix+retrieve+bits"])
def test_patch_log_probs_sum_to_the_training_loss(mode):
    model = tiny(prev_patch=mode)
    ids = random_ids(batch=2, patches=4)
    _, loss = model(ids)
    features = model.patch_features(ids)
    patches = ids.view(2, 4, 16)
    retrieved = None
    if model.retrieved:
        retrieved = model.retrieve(features[:, :-1], patches[:, :-1]).reshape(6, 16, -1)
    log_probs = model.patch_log_probs(
        features[:, :-1].reshape(6, -1),
        patches[:, :-1].reshape(6, 16),
        patches[:, 1:].reshape(6, 16),
        retrieved,
    )
    assert log_probs.shape == (6,)
    assert torch.allclose(-log_probs.sum() / (6 * 16), loss, atol=1e-5)


def test_bit_signs_spell_each_byte_lowest_bit_first_and_eop_has_none():
    signs = _bit_signs()
    assert signs.shape == (257, 8)
    assert signs[0].tolist() == [-1.0] * 8
    assert signs[255].tolist() == [1.0] * 8
    assert signs[0b10000101].tolist() == [1, -1, 1, -1, -1, -1, -1, 1]
    assert signs[EOP].tolist() == [0.0] * 8


def test_bit_features_start_at_zero_and_change_nothing_until_trained():
    plain = tiny(prev_patch="prefix+retrieve")
    with_bits = BGPT(plain.config.with_overrides(bit_features=True)).eval()
    assert not with_bits.bit_in.weight.any() and not with_bits.bit_out.weight.any()
    missing, unexpected = with_bits.load_state_dict(plain.state_dict(), strict=False)
    assert sorted(missing) == ["bit_in.weight", "bit_out.weight"] and not unexpected
    ids = random_ids(patches=5)
    assert torch.equal(plain(ids)[0], with_bits(ids)[0])


def test_bit_output_scores_add_a_signed_bit_score_to_every_candidate_byte():
    model = tiny(prev_patch="prefix+bits")
    h = torch.randn(3, model.config.byte_width)
    bit_scores = model.bit_out(h)  # (3, 8)
    expected = F.linear(h, model.byte_wte.weight)
    expected[:, 5] += (bit_scores * torch.tensor([1, -1, 1, -1, -1, -1, -1, -1.0])).sum(1)
    assert torch.allclose(model.byte_logits(h)[:, 5], expected[:, 5], atol=1e-6)
    assert torch.allclose(model.byte_logits(h)[:, EOP], expected[:, EOP])
