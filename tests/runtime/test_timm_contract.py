"""timm's model contract on generated models, checked with timm's own helpers beside timm's
own model: feature_info, forward_intermediates (timm's FeatureGetterNet), get_classifier,
reset_classifier, group_matcher (timm's param groups), act_layer / norm_layer, TF init;
and set_grad_checkpointing: saved bytes drop by the predicted amount, gradients equal."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
timm = pytest.importorskip("timm")

from torch import nn  # noqa: E402

import specc  # noqa: E402
from specc.passes.memory import Setting, saved_bytes  # noqa: E402
from specc.runtime.memory import measure_saved  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SPECS = ["b0", "resnet50", "convnext_tiny", "mobilenet_v3_large", "mixnet_s"]


def small(name: str, *overrides: str):
    return specc.compile(
        ROOT / "specs" / f"{name}.yaml", overrides=["input.resolution=64", *overrides]
    )


@pytest.mark.parametrize("name", SPECS)
def test_feature_extraction_through_timm(name):
    """timm's FeatureGetterNet (features_only through forward_intermediates) gives the maps
    feature_info describes, as it does for timm's efficientnet_b0."""
    from timm.models._features import FeatureGetterNet

    x = torch.randn(2, 3, 64, 64)
    for model in (specc.instantiate(small(name)), timm.create_model("efficientnet_b0")):
        model.eval()
        info = model.feature_info
        assert all({"num_chs", "reduction", "module"} <= set(d) for d in info)
        modules = dict(model.named_modules())
        assert all(d["module"] in modules for d in info)
        getter = FeatureGetterNet(model, out_indices=tuple(range(len(info)))[-3:], prune=False)
        with torch.no_grad():
            maps = getter(x)
        assert [m.shape[1] for m in maps] == getter.feature_info.channels()
        assert [64 // m.shape[-1] for m in maps] == getter.feature_info.reduction()
    ours = specc.instantiate(small(name)).eval()
    with torch.no_grad():
        final, maps = ours.forward_intermediates(x, indices=2)
        assert torch.equal(final, ours.forward_features(x))
        assert [m.shape for m in maps] == [m.shape for m in ours.features(x)[-2:]]


@pytest.mark.parametrize("name", SPECS)
def test_classifier_and_parameter_groups_as_timm(name):
    from timm.optim import param_groups_layer_decay

    model = specc.instantiate(small(name))
    assert model.get_classifier() is model.classifier
    model.reset_classifier(7, global_pool="avg")
    assert model.get_classifier().out_features == 7
    with pytest.raises(ValueError, match="global_pool"):
        model.reset_classifier(7, global_pool="max")
    stages = len(model.stages)
    blocks = sum(len(stage) for stage in model.stages)
    for coarse, inner in ((True, stages), (False, blocks)):
        groups = param_groups_layer_decay(model, layer_decay=0.8)
        assert groups  # timm reads group_matcher
        matcher = model.group_matcher(coarse=coarse)
        from timm.models import group_parameters

        grouped = group_parameters(model, matcher)
        # the stem, one group per stage or block, the layers after the stages, the classifier
        assert len(grouped) in (inner + 2, inner + 3)
        assert "stem.conv.weight" in grouped[min(grouped)]


@pytest.mark.parametrize("name", SPECS)
def test_act_and_norm_layers_are_constructor_arguments(name):
    norm = functools.partial(nn.GroupNorm, 1)
    model = specc.instantiate(small(name), act_layer=nn.Mish, norm_layer=norm)
    kinds = {type(m) for m in model.modules()}
    assert nn.Mish in kinds and nn.GroupNorm in kinds
    assert not kinds & {nn.BatchNorm2d, nn.LayerNorm}
    model(torch.randn(2, 3, 64, 64)).sum().backward()


def test_tf_init_divides_a_grouped_conv_fan_out():
    torch.manual_seed(0)
    tf = specc.instantiate(small("b0", "defaults.init=tf"))
    torch.manual_seed(0)
    tv = specc.instantiate(small("b0"))
    depthwise = [n for n, m in tf.named_modules() if isinstance(m, nn.Conv2d) and m.groups > 1]
    conv_tf, conv_tv = tf.get_submodule(depthwise[-1]), tv.get_submodule(depthwise[-1])
    ratio = conv_tf.weight.std() / conv_tv.weight.std()
    assert ratio.item() == pytest.approx(conv_tf.groups**0.5, rel=0.1)


@pytest.mark.parametrize("name", ["b0", "mixnet_s", "convnext_tiny"])
def test_checkpointing_cuts_the_predicted_bytes_with_equal_gradients(name):
    arch = small(name, "scaling.drop_path=0.2")
    same = arch.resolved.defaults.padding == "same"
    plain = saved_bytes(arch.graph, Setting(), same_padding=same).at(2)
    cut = saved_bytes(arch.graph, Setting(grad_checkpointing=True), same_padding=same).at(2)
    model = specc.instantiate(arch).double().float()
    x = torch.randn(2, *arch.input_shape)
    torch.manual_seed(1)
    before = measure_saved(model, x, keep_gradients=True)
    model.set_grad_checkpointing(True)
    torch.manual_seed(1)
    after = measure_saved(model, x, keep_gradients=True)
    assert (before.saved, after.saved) == (plain, cut)
    assert after.saved < 0.5 * before.saved
    for key, grad in before.gradients.items():
        other = after.gradients[key]
        scale = grad.abs().max().clamp_min(1e-30)
        assert ((grad - other).abs().max() / scale).item() < 1e-6, key
