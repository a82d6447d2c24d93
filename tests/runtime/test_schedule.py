"""The EfficientNet learning-rate schedule: warm-up, staircase decay, batch scaling, resume."""

from __future__ import annotations

import io

import pytest

torch = pytest.importorskip("torch")

from specc.runtime.train.schedule import WarmupExponential, learning_rate, scaled_lr  # noqa: E402

BASE = 0.256
# 100 steps an epoch: warm-up ends at step 500, a decay period is 2.4 * 100 = 240 steps.
SPE = 100


def lr(step: int, **kwargs) -> float:
    return learning_rate(step, base_lr=BASE, steps_per_epoch=SPE, **kwargs)


def test_warmup_is_linear_from_zero():
    assert lr(0) == 0.0
    assert lr(250) == pytest.approx(BASE / 2)  # the midpoint of 500 warm-up steps
    assert lr(499) == pytest.approx(BASE * 499 / 500)


def test_decay_counts_from_step_zero_not_from_the_end_of_warmup():
    # Step 500 is 500 / 240 = 2.08 decay periods in: two decays have already happened.
    assert lr(500) == pytest.approx(BASE * 0.97**2)
    assert lr(500) < lr(499)


@pytest.mark.parametrize("k", [3, 4, 10, 100])
def test_staircase_steps_at_multiples_of_2_4_epochs(k):
    boundary = 240 * k
    assert lr(boundary - 1) == pytest.approx(BASE * 0.97 ** (k - 1))
    assert lr(boundary) == pytest.approx(BASE * 0.97**k)
    assert lr(boundary + 239) == pytest.approx(BASE * 0.97**k)


def test_continuous_decay_without_staircase():
    assert lr(600, staircase=False) == pytest.approx(BASE * 0.97**2.5)  # 600 / 240 = 2.5
    assert lr(250, staircase=False) == pytest.approx(BASE / 2)  # warm-up is unchanged


def test_no_warmup():
    assert lr(0, warmup_epochs=0) == BASE
    assert lr(239, warmup_epochs=0) == BASE


def test_fractional_warmup_is_truncated_like_the_reference():
    # int(0.005 * 100) = 0: no warm-up at all.
    assert lr(0, warmup_epochs=0.005) == BASE
    # int(1.25 * 10) = 12 warm-up steps.
    assert learning_rate(6, base_lr=1.0, steps_per_epoch=10, warmup_epochs=1.25) == 0.5


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="steps_per_epoch"):
        learning_rate(0, base_lr=BASE, steps_per_epoch=0)
    with pytest.raises(ValueError, match="decay_epochs"):
        lr(0, decay_epochs=0)
    with pytest.raises(ValueError, match="step"):
        lr(-1)


def test_batch_scaling():
    assert scaled_lr(0.016, 256) == pytest.approx(0.016)
    assert scaled_lr(0.016, 4096) == pytest.approx(0.256)  # the paper's rate at batch 4096
    assert scaled_lr(0.016, 128) == pytest.approx(0.008)


def make(lr_scales=(1.0, 0.5), **kwargs):
    groups = [{"params": [torch.zeros(1, requires_grad=True)], "lr_scale": s} for s in lr_scales]
    groups.append({"params": [torch.zeros(1, requires_grad=True)]})  # no lr_scale: 1
    optimizer = torch.optim.SGD(groups, lr=123.0)  # any lr: the scheduler overwrites it
    schedule = {"base_lr": 0.1, "steps_per_epoch": 10, **kwargs}
    return optimizer, WarmupExponential(optimizer, **schedule), schedule


def group_lrs(optimizer) -> list[float]:
    return [group["lr"] for group in optimizer.param_groups]


def expected(step: int, schedule: dict) -> list[float]:
    rate = learning_rate(step, **schedule)
    return [rate, 0.5 * rate, rate]


@pytest.mark.filterwarnings("error")  # e.g. torch's scheduler-before-optimiser warning
@pytest.mark.parametrize("staircase", [True, False])
def test_scheduler_follows_the_function(staircase):
    optimizer, scheduler, schedule = make(staircase=staircase)
    seen = [group_lrs(optimizer)]
    for _ in range(200):
        optimizer.step()
        scheduler.step()
        seen.append(group_lrs(optimizer))
    assert seen == [pytest.approx(expected(step, schedule)) for step in range(201)]
    assert scheduler.get_last_lr() == pytest.approx(expected(200, schedule))
    # The schedule covers warm-up (steps 0..49) and several decays (every 24 steps).
    assert seen[25][0] == pytest.approx(0.05)
    assert seen[200][0] == pytest.approx(0.1 * 0.97 ** (8 if staircase else 200 / 24))


@pytest.mark.filterwarnings("error")
def test_scheduler_resumes_exactly():
    optimizer, scheduler, schedule = make(warmup_epochs=3)
    for _ in range(73):
        optimizer.step()
        scheduler.step()
    saved = io.BytesIO()
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}, saved)
    saved.seek(0)
    checkpoint = torch.load(saved, weights_only=True)

    # A fresh process: build both, then load, the optimiser first (as torch advises, the
    # scheduler is built before the optimiser's state is loaded).
    resumed_optimizer, resumed, _ = make(warmup_epochs=3)
    assert group_lrs(resumed_optimizer) == pytest.approx(expected(0, schedule))
    resumed_optimizer.load_state_dict(checkpoint["optimizer"])
    resumed.load_state_dict(checkpoint["scheduler"])
    assert group_lrs(resumed_optimizer) == pytest.approx(expected(73, schedule))

    for step in range(74, 150):
        for opt, sched in ((optimizer, scheduler), (resumed_optimizer, resumed)):
            opt.step()
            sched.step()
        assert group_lrs(resumed_optimizer) == group_lrs(optimizer)
        assert group_lrs(optimizer) == pytest.approx(expected(step, schedule))


def test_scheduler_refuses_bad_arguments_at_construction():
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="steps_per_epoch"):
        WarmupExponential(optimizer, base_lr=0.1, steps_per_epoch=0)


def test_cosine_warms_up_then_falls_to_min_lr_at_the_last_step():
    from specc.runtime.train.schedule import WarmupCosine, cosine_rate

    kwargs = {"base_lr": 1.0, "steps_per_epoch": 10, "total_steps": 110, "warmup_epochs": 1}
    assert cosine_rate(5, **kwargs) == pytest.approx(0.5)
    assert cosine_rate(10, **kwargs) == pytest.approx(1.0)
    assert cosine_rate(60, **kwargs) == pytest.approx(0.5)  # half way: cos(pi/2)
    assert cosine_rate(110, **kwargs, min_lr=0.01) == pytest.approx(0.01)
    assert cosine_rate(500, **kwargs) == pytest.approx(0.0)
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = WarmupCosine(optimizer, **kwargs)
    for _ in range(60):
        optimizer.step()
        scheduler.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.5)
