"""RMSpropTF against TensorFlow's RMSProp equations, worked out by hand; weight-decay groups."""

from __future__ import annotations

import io
import math

import pytest

torch = pytest.importorskip("torch")

from specc.runtime.train.optim import RMSpropTF, param_groups  # noqa: E402

LR, DECAY, MOMENTUM, EPS = 0.1, 0.9, 0.9, 1e-3
START = [1.0, -1.0]
GRADIENTS = [[1.0, -2.0], [0.5, 0.0], [-1.0, 3.0]]


def run(
    optimizer_args: dict, start: list[float], gradients: list[list[float]]
) -> list[list[float]]:
    """The parameter after each step, gradients set by hand (float64 for exact comparison)."""
    param = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    optimizer = RMSpropTF([param], **optimizer_args)
    trajectory = []
    for gradient in gradients:
        param.grad = torch.tensor(gradient, dtype=torch.float64)
        optimizer.step()
        trajectory.append(param.detach().tolist())
    return trajectory


def tf_rmsprop(start: list[float], gradients: list[list[float]], eps_inside: bool = True):
    """TF's RMSProp in Python floats, straight from its equations, one element at a time."""
    p, ms, mom = list(start), [1.0, 1.0], [0.0, 0.0]
    trajectory = []
    for g in gradients:
        for i in range(len(p)):
            ms[i] = DECAY * ms[i] + (1 - DECAY) * g[i] ** 2
            scale = math.sqrt(ms[i] + EPS) if eps_inside else math.sqrt(ms[i]) + EPS
            mom[i] = MOMENTUM * mom[i] + LR * g[i] / scale
            p[i] -= mom[i]
        trajectory.append(list(p))
    return trajectory


def test_matches_tf_rmsprop_worked_by_hand():
    trajectory = run({"lr": LR}, START, GRADIENTS)

    # Step 1 in full. Element 0: ms = 0.9 * 1 + 0.1 * 1**2 = 1.0, mom = 0.1 * 1 / sqrt(1.001).
    # Element 1: ms = 0.9 + 0.1 * (-2)**2 = 1.3, mom = 0.1 * -2 / sqrt(1.301).
    mom0, mom1 = 0.1 / math.sqrt(1.001), -0.2 / math.sqrt(1.301)
    assert trajectory[0] == pytest.approx([1.0 - mom0, -1.0 - mom1], rel=1e-12)
    # Step 2, element 1 has a zero gradient: ms = 0.9 * 1.3 = 1.17 is irrelevant, the
    # momentum alone moves it, mom = 0.9 * mom1.
    assert trajectory[1][1] == pytest.approx(-1.0 - mom1 - 0.9 * mom1, rel=1e-12)
    # Element 0: ms = 0.9 * 1.0 + 0.1 * 0.25 = 0.925, mom = 0.9 * mom0 + 0.1 * 0.5 / sqrt(0.926).
    mom0_2 = 0.9 * mom0 + 0.05 / math.sqrt(0.926)
    assert trajectory[1][0] == pytest.approx(1.0 - mom0 - mom0_2, rel=1e-12)
    # All three steps against the equations.
    assert trajectory == [pytest.approx(step, rel=1e-12) for step in tf_rmsprop(START, GRADIENTS)]


def test_eps_is_inside_the_square_root():
    # A small gradient with no history (decay 0) makes ms = g**2 = 1e-4, of the order of
    # eps: inside, the step is 0.01 / sqrt(0.0011) = 0.30; outside it would be
    # 0.01 / (0.01 + 0.001) = 0.91.
    args = {"lr": 1.0, "decay": 0.0, "momentum": 0.0, "eps": 1e-3}
    (after,) = run(args, [0.0], [[0.01]])
    assert after[0] == pytest.approx(-0.01 / math.sqrt(1e-4 + 1e-3), rel=1e-12)
    assert after[0] != pytest.approx(-0.01 / (math.sqrt(1e-4) + 1e-3), rel=1e-3)

    # torch's RMSprop (eps outside) gives the outside value on the same problem.
    param = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    param.grad = torch.full((1,), 0.01, dtype=torch.float64)
    torch.optim.RMSprop([param], lr=1.0, alpha=0.0, eps=1e-3).step()
    assert param.item() == pytest.approx(-0.01 / (0.01 + 1e-3), rel=1e-12)
    assert param.item() != pytest.approx(after[0], rel=1e-3)

    # And over the three-step example, eps inside and outside give different trajectories.
    inside = run({"lr": LR}, START, GRADIENTS)
    outside = tf_rmsprop(START, GRADIENTS, eps_inside=False)
    assert inside[-1] != pytest.approx(outside[-1], rel=1e-6)


def test_square_average_starts_at_ones():
    param = torch.tensor([2.0, -3.0], dtype=torch.float64, requires_grad=True)
    optimizer = RMSpropTF([param], lr=0.1)
    param.grad = torch.tensor([0.0, 1.0], dtype=torch.float64)
    optimizer.step()
    # From ones: 0.9 * 1 + 0.1 * g**2. From zeros it would be 0.0 and 0.1.
    assert optimizer.state[param]["square_avg"].tolist() == pytest.approx([0.9, 1.0])
    # A zero gradient moves nothing on the first step.
    assert param[0].item() == 2.0


def test_weight_decay_adds_l2_to_the_gradient():
    start, gradient, decay = [1.5, -0.5], [0.2, 0.4], 0.1
    with_decay = run({"lr": LR, "weight_decay": decay}, start, [gradient])
    l2_gradient = [g + decay * p for g, p in zip(gradient, start, strict=True)]
    by_hand = run({"lr": LR}, start, [l2_gradient])
    assert with_decay == by_hand
    assert with_decay != run({"lr": LR}, start, [gradient])


def test_groups_keep_their_own_lr_and_weight_decay():
    a = torch.ones(1, requires_grad=True)
    b = torch.ones(1, requires_grad=True)
    optimizer = RMSpropTF(
        [{"params": [a], "weight_decay": 1.0}, {"params": [b], "lr": 1.0}], lr=0.1
    )
    a.grad, b.grad = torch.zeros(1), torch.zeros(1)
    optimizer.step()
    # a: g = 0 + 1.0 * 1 = 1, ms = 0.9 + 0.1 = 1.0, step 0.1 / sqrt(1.001). b: no gradient.
    assert a.item() == pytest.approx(1.0 - 0.1 / math.sqrt(1.001), rel=1e-6)
    assert b.item() == 1.0


def test_closure_loss_is_returned_and_computed_with_grad():
    param = torch.tensor([3.0], requires_grad=True)
    optimizer = RMSpropTF([param], lr=0.1)

    def closure() -> float:
        optimizer.zero_grad()
        loss = (param**2).sum()
        loss.backward()
        return loss.item()

    assert optimizer.step(closure) == 9.0
    assert param.item() < 3.0


def test_sparse_gradients_are_refused():
    param = torch.zeros(3, requires_grad=True)
    param.grad = torch.sparse_coo_tensor([[0]], [1.0], (3,), check_invariants=True)
    with pytest.raises(RuntimeError, match="sparse"):
        RMSpropTF([param], lr=0.1).step()


def test_state_dict_round_trip_continues_identically():
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 3)
    inputs = torch.randn(8, 4)

    def train(model, optimizer, steps):
        for _ in range(steps):
            optimizer.zero_grad()
            model(inputs).square().mean().backward()
            optimizer.step()

    optimizer = RMSpropTF(param_groups(model, 1e-2), lr=0.05)
    train(model, optimizer, 3)
    resumed = torch.nn.Linear(4, 3)
    resumed.load_state_dict(model.state_dict())
    resumed_optimizer = RMSpropTF(param_groups(resumed, 0.5), lr=1.0)  # overwritten by load
    # Through bytes, as a checkpoint goes: a state dict shares its tensors with the optimiser.
    saved = io.BytesIO()
    torch.save(optimizer.state_dict(), saved)
    saved.seek(0)
    resumed_optimizer.load_state_dict(torch.load(saved, weights_only=True))

    # A fresh optimiser (ms at ones, no momentum) would not continue the same way.
    restarted = torch.nn.Linear(4, 3)
    restarted.load_state_dict(model.state_dict())

    train(model, optimizer, 3)
    train(resumed, resumed_optimizer, 3)
    train(restarted, RMSpropTF(param_groups(restarted, 1e-2), lr=0.05), 3)
    for original, copy in zip(model.parameters(), resumed.parameters(), strict=True):
        assert torch.equal(original, copy)
    assert not torch.allclose(model.weight, restarted.weight)


class Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, bias=False)
        self.bn = torch.nn.BatchNorm2d(8)
        self.se = torch.nn.Conv2d(8, 2, 1)  # with a bias, like a squeeze-excitation conv
        self.fc = torch.nn.Linear(2, 5)
        self.frozen = torch.nn.Linear(5, 5)
        self.frozen.requires_grad_(False)


def test_param_groups_split_weights_from_norms_and_biases():
    net = Net()
    groups = param_groups(net, 1e-5)
    assert [g["weight_decay"] for g in groups] == [1e-5, 0.0]
    decayed, not_decayed = ({id(p) for p in g["params"]} for g in groups)
    assert decayed == {id(net.conv.weight), id(net.se.weight), id(net.fc.weight)}
    assert not_decayed == {id(net.bn.weight), id(net.bn.bias), id(net.se.bias), id(net.fc.bias)}
    RMSpropTF(groups, lr=0.1)  # the groups are valid optimiser input


def test_param_groups_omits_empty_groups():
    norm_only = torch.nn.BatchNorm1d(4)
    (group,) = param_groups(norm_only, 1e-5)
    assert group["weight_decay"] == 0.0
    assert param_groups(torch.nn.ReLU(), 1e-5) == []
