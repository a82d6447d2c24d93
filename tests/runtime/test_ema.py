"""The weight average: its update rule, buffers, warm-up decay, checkpointing, wrapped models."""

from __future__ import annotations

import io

import pytest

torch = pytest.importorskip("torch")

from specc.runtime.train.ema import ModelEma  # noqa: E402


def small_net():
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3, bias=False),
        torch.nn.BatchNorm2d(4),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(4 * 4 * 4, 2),
    )


def train_a_little(model, seed: int = 1):
    """Change every kind of state: weights (by hand) and BN statistics (by a forward pass)."""
    torch.manual_seed(seed)
    model.train()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter))
        model(torch.randn(8, 3, 6, 6))


def snapshot(module) -> dict:
    return {name: value.clone() for name, value in module.state_dict().items()}


def test_the_copy_is_frozen_separate_and_in_eval_mode():
    model = small_net().train()
    ema = ModelEma(model)
    assert not ema.module.training
    assert all(not p.requires_grad for p in ema.module.parameters())
    assert all(p.requires_grad for p in model.parameters())  # the model is left alone
    assert model.training
    theirs_by_name = model.state_dict()
    assert set(ema.module.state_dict()) == set(theirs_by_name)
    for name, ours in ema.module.state_dict().items():
        theirs = theirs_by_name[name]
        assert torch.equal(ours, theirs), name
        assert ours.data_ptr() != theirs.data_ptr(), name
        assert ours.device == theirs.device


def test_one_update_is_decay_times_old_plus_one_minus_decay_times_new():
    model = small_net()
    ema = ModelEma(model, decay=0.9)
    old = snapshot(ema.module)
    train_a_little(model)
    new = snapshot(model)
    ema.update(model)

    averaged = ema.module.state_dict()
    floating = [name for name, value in new.items() if value.is_floating_point()]
    # Parameters and BN's running mean and variance are all averaged.
    assert {"0.weight", "1.weight", "1.running_mean", "1.running_var", "4.bias"} <= set(floating)
    for name in floating:
        assert not torch.equal(old[name], new[name]), f"{name} did not change in training"
        torch.testing.assert_close(averaged[name], 0.9 * old[name] + 0.1 * new[name])
    # The batch counter is copied, not averaged.
    assert new["1.num_batches_tracked"].item() == 1
    assert averaged["1.num_batches_tracked"].item() == 1
    assert ema.num_updates == 1


def test_the_default_decay_is_the_recipe_s():
    ema = ModelEma(small_net())
    assert ema.decay == 0.9999
    assert ema.current_decay() == 0.9999  # no warm-up unless asked


def test_warmup_decay_is_min_of_decay_and_1_plus_n_over_10_plus_n():
    model = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(0.0)
    ema = ModelEma(model, decay=0.9999, warmup=True)
    value = 0.0
    for n in range(3):
        decay = (1 + n) / (10 + n)  # 0.1, 2/11, 3/12
        assert ema.current_decay() == pytest.approx(decay)
        with torch.no_grad():
            model.weight.fill_(float(n + 1))
        ema.update(model)
        value = decay * value + (1 - decay) * (n + 1)
        assert ema.module.weight.item() == pytest.approx(value)
    # (1 + n) / (10 + n) reaches 0.9999 at n = 89,990 (0.0001 n = 8.999): from there the
    # cap holds.
    ema.num_updates = 89_989
    assert ema.current_decay() == pytest.approx(89_990 / 89_999)
    assert ema.current_decay() < 0.9999
    ema.num_updates = 200_000
    assert ema.current_decay() == 0.9999


def test_state_dict_round_trip():
    model = small_net()
    ema = ModelEma(model, decay=0.99, warmup=True)
    for seed in range(3):
        train_a_little(model, seed)
        ema.update(model)
    saved = io.BytesIO()
    torch.save(ema.state_dict(), saved)
    saved.seek(0)

    resumed = ModelEma(small_net(), decay=0.99, warmup=True)
    resumed.load_state_dict(torch.load(saved, weights_only=True))
    assert resumed.num_updates == 3
    for name, value in ema.module.state_dict().items():
        assert torch.equal(resumed.module.state_dict()[name], value), name

    # Both continue identically, which needs the count: the warm-up decay depends on it.
    train_a_little(model, 10)
    ema.update(model)
    resumed.update(model)
    for name, value in ema.module.state_dict().items():
        assert torch.equal(resumed.module.state_dict()[name], value), name


def test_a_model_of_another_shape_is_refused():
    ema = ModelEma(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="unexpected"):
        ema.update(torch.nn.Sequential(torch.nn.Linear(2, 2)))


def test_data_parallel_wrappers_are_unwrapped():
    model = small_net()
    wrapped = torch.nn.DataParallel(model)  # on CPU it just holds the module
    ema = ModelEma(wrapped, decay=0.5)
    assert set(ema.module.state_dict()) == set(model.state_dict())  # no "module." prefix
    before = model[4].bias.detach().clone()
    train_a_little(model)
    ema.update(wrapped)
    torch.testing.assert_close(ema.module[4].bias, 0.5 * before + 0.5 * model[4].bias)


def test_a_child_named_module_is_not_mistaken_for_a_wrapper():
    class Holder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.module = torch.nn.Linear(2, 2)
            self.head = torch.nn.Linear(2, 1)

    ema = ModelEma(Holder())
    assert "head.weight" in ema.module.state_dict()


def test_distributed_data_parallel_is_unwrapped(tmp_path):
    distributed = torch.distributed
    if not (distributed.is_available() and distributed.is_gloo_available()):
        pytest.skip("torch built without torch.distributed's gloo backend")
    store = distributed.FileStore(str(tmp_path / "store"), 1)
    distributed.init_process_group("gloo", store=store, rank=0, world_size=1)
    try:
        model = small_net()
        wrapped = torch.nn.parallel.DistributedDataParallel(model)
        ema = ModelEma(wrapped, decay=0.5)
        assert set(ema.module.state_dict()) == set(model.state_dict())
        before = model[4].bias.detach().clone()
        train_a_little(model)
        ema.update(wrapped)
        torch.testing.assert_close(ema.module[4].bias, 0.5 * before + 0.5 * model[4].bias)
    finally:
        distributed.destroy_process_group()
