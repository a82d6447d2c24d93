"""Block kinds from plugins: the GhostNet plugin used end to end, and broken plugins.

Each command runs in a fresh `specc` process with the plugin's folder on PYTHONPATH: its
committed `specc_ghostnet-0.1.0.dist-info` declares the entry point as an installed
distribution would, so importlib.metadata finds it with no install step, and the registry
(discovered once per process) sees exactly the plugins of that run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GHOSTNET = ROOT / "tests" / "plugins" / "ghostnet"
SPEC = GHOSTNET / "ghostnet_tiny.yaml"
B0 = ROOT / "specs" / "b0.yaml"


def specc(*args: object, path: list[Path], cwd: Path | None = None, timeout: int = 240):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(str(p) for p in path))
    return subprocess.run(
        [sys.executable, "-m", "specc", *map(str, args)],
        capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout,
    )  # fmt: skip


def python(code: str, path: list[Path]) -> str:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(str(p) for p in path))
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=240
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _built(tmp_path: Path) -> Path:
    out = tmp_path / "ghost"
    result = specc("build", SPEC, "--phi", "0", "--out", out, path=[GHOSTNET])
    assert result.returncode == 0, result.stderr
    return out


def test_validate_and_show_layers_use_the_plugin_kind():
    result = specc("validate", SPEC, path=[GHOSTNET])
    assert result.returncode == 0, result.stderr
    assert "ok (3 stages" in result.stdout
    result = specc("show", SPEC, "--layers", path=[GHOSTNET])
    assert result.returncode == 0, result.stderr
    assert "stages.2.0.ghost1.concat" in result.stdout and "concat" in result.stdout
    assert "stages.1.0.shortcut_project.conv" in result.stdout


def test_build_writes_a_ruff_clean_model_whose_parameters_equal_the_ir(tmp_path):
    out = _built(tmp_path)
    source = (out / "model.py").read_text()
    assert "class GhostModule(nn.Module):" in source and "class GhostBottleneck(" in source
    assert "GhostBottleneck(16, 24, stride=2, expanded=48, drop_path=dpr[1])," in source
    for tool in (["check"], ["format", "--check"]):
        lint = subprocess.run(["ruff", *tool, str(out / "model.py")], capture_output=True)
        assert lint.returncode == 0, lint.stdout
    counted = python(
        f"import sys; sys.path.insert(0, {str(out)!r}); import model, torch\n"
        "m = model.GhostNetTiny().eval()\n"
        "print(sum(p.numel() for p in m.parameters()), tuple(m(torch.randn(2, 3, 64, 64)).shape))",
        path=[],  # model.py needs torch only, not the plugin
    )
    ir_params = json.loads((out / "architecture.json").read_text())["totals"]["params"]
    assert ir_params == 23_658
    assert counted.split() == [str(ir_params), "(2,", "10)"]


def test_build_of_a_wider_phi_instantiates_to_the_reported_count(tmp_path):
    out = tmp_path / "phi2"
    result = specc("build", SPEC, "--phi", "2", "--out", out, path=[GHOSTNET])
    assert result.returncode == 0, result.stderr
    arch = json.loads((out / "architecture.json").read_text())
    resolution = arch["resolution"]
    assert resolution == 85  # 64 x 1.15^2, nearest
    counted = python(
        f"import sys; sys.path.insert(0, {str(out)!r}); import model, torch\n"
        "m = model.GhostNetTiny().eval()\n"
        f"m(torch.randn(1, 3, {resolution}, {resolution}))\n"
        "print(sum(p.numel() for p in m.parameters()))",
        path=[],
    )
    assert int(counted) == arch["totals"]["params"]


def test_diff_against_a_variant_reports_the_change():
    variant = f"{SPEC}@stages.2.expanded=96"
    result = specc("diff", SPEC, variant, path=[GHOSTNET])
    assert result.returncode == 1, result.stderr  # 1: the networks differ
    assert "23,658" in result.stdout and "26,406" in result.stdout
    assert "+2,748" in result.stdout


def test_train_one_step_and_weights_import(tmp_path):
    out = _built(tmp_path)
    result = specc(
        "train", out / "train.yaml", "--data", "synthetic", "--max-steps", "1",
        "--synthetic-images", "8", "--batch-size", "4", "--workers", "0",
        "--out", tmp_path / "run", path=[GHOSTNET], timeout=400,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr + result.stdout
    # A checkpoint of the generated module under other names (a DDP prefix, no BN
    # counters, as ports from TF give them) imports by structure and reproduces it.
    checkpoint, weights = tmp_path / "ck.pt", tmp_path / "w.pt"
    python(
        f"import sys; sys.path.insert(0, {str(out)!r}); import model, torch\n"
        "torch.manual_seed(0); m = model.GhostNetTiny()\n"
        "sd = {'module.' + k.replace('.', '_'): v for k, v in m.state_dict().items()\n"
        "      if not k.endswith('num_batches_tracked')}\n"
        f"torch.save(sd, {str(checkpoint)!r})",
        path=[],
    )
    result = specc(
        "weights", "import", checkpoint, "--into", out, "--out", weights, path=[GHOSTNET]
    )
    assert result.returncode == 0, result.stderr
    same = python(
        f"import sys; sys.path.insert(0, {str(out)!r}); import model, torch\n"
        "torch.manual_seed(0); ref = model.GhostNetTiny()\n"
        f"got = torch.load({str(weights)!r})\n"
        "print(all(torch.equal(v, got[k]) for k, v in ref.state_dict().items()\n"
        "          if not k.endswith('num_batches_tracked')))",
        path=[],
    )
    assert same.strip() == "True"


def test_unknown_kind_stays_a_located_did_you_mean(tmp_path):
    spec = tmp_path / "typo.yaml"
    spec.write_text(SPEC.read_text().replace("block: ghost, kernel: 5", "block: ghots, kernel: 5"))
    result = specc("build", spec, "--out", tmp_path / "out", path=[GHOSTNET])
    assert result.returncode == 1
    assert "typo.yaml:12:" in result.stderr and "unknown block kind 'ghots'" in result.stderr
    assert "did you mean 'ghost'?" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


# Broken plugins: one distribution each, next to the working GhostNet plugin.
_BROKEN = {
    "ghost_import": ("import specc_no_such_dependency\n", None),
    "ghost_not_kind": ("KIND = 'a string'\n", None),
    # A kind written against contract v1 (specc 0.1's `specc.blocks.base`).
    "ghost_v1": ("from specc.blocks.base import BlockKind, ResolvedBlock\nKIND = None\n", None),
    # A v1-shaped record that imports nothing specc moved: refused by its shape.
    "ghost_v1_shape": (
        "class Kind:\n"
        "    name = 'ghost_v1_shape'\n"
        "    def resolve(self, *a): return {}\n"
        "    def arguments(self, *a): return []\n"
        "    requires = ('conv.py.j2',)\n"
        "KIND = Kind()\n",
        None,
    ),
    "ghost_literal": (
        "import dataclasses, specc_ghostnet\n"
        "KIND = dataclasses.replace(specc_ghostnet.KIND, name='ghost_literal')\n",
        None,
    ),
    "ghost_template": (
        "import dataclasses, typing, specc_ghostnet\n"
        "class Stage(specc_ghostnet.GhostStage):\n"
        "    block: typing.Literal['ghost_template']\n"
        "KIND = dataclasses.replace(specc_ghostnet.KIND, name='ghost_template', schema=Stage)\n",
        None,
    ),
    "ghost_schema": (
        "import dataclasses, specc_ghostnet\n"
        "KIND = dataclasses.replace(specc_ghostnet.KIND, name='ghost_schema', schema=dict)\n",
        None,
    ),
    "ghost_path": (
        "import dataclasses, typing, specc_ghostnet\n"
        "class Stage(specc_ghostnet.GhostStage):\n"
        "    block: typing.Literal['ghost_path']\n"
        "emitter = dataclasses.replace(specc_ghostnet.KIND.emitter, template='../secret.j2')\n"
        "KIND = dataclasses.replace(\n"
        "    specc_ghostnet.KIND, name='ghost_path', schema=Stage, emitter=emitter\n"
        ")\n",
        None,
    ),
    "mbconv": (
        "import dataclasses, specc_ghostnet\n"
        "KIND = dataclasses.replace(specc_ghostnet.KIND, name='mbconv')\n",
        None,
    ),
}
_MESSAGES = {
    "ghost_import": "importing it failed: ModuleNotFoundError: No module named "
    "'specc_no_such_dependency'",
    "ghost_not_kind": "it gives a str, not a specc BlockKind",
    "ghost_v1": "No module named 'specc.blocks.base'): it is written against specc's plugin "
    "contract v1",
    "ghost_v1_shape": "this specc takes contract v2 (specc.blocks.kind.BlockKind",
    "ghost_literal": "its schema's `block` field must be Literal['ghost_literal'], found 'ghost'",
    "ghost_template": "its template 'ghost.py.j2' must be in",
    "ghost_schema": "its schema must be a subclass of specc.blocks.kind.StageBase",
    "ghost_path": "template '../secret.j2' must be a plain file name",
}


def _distribution(root: Path, dist: str, entry: str, module: str, source: str | None) -> None:
    info = root / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[specc.blocks]\n{entry} = {module}:KIND\n")
    if source is not None:
        (root / f"{module}.py").write_text(source)


@pytest.fixture
def broken(tmp_path) -> Path:
    root = tmp_path / "site"
    for name, (source, _) in _BROKEN.items():
        _distribution(root, f"broken-{name}", name, f"broken_{name}", source)
    return root


@pytest.mark.parametrize("kind", sorted(_MESSAGES))
def test_a_broken_plugin_is_named_when_a_spec_uses_its_kind(tmp_path, broken, kind):
    spec = tmp_path / "uses.yaml"
    spec.write_text(
        SPEC.read_text().replace("block: ghost, kernel: 5", f"block: {kind}, kernel: 5")
    )
    out = tmp_path / "out"
    result = specc("build", spec, "--out", out, path=[GHOSTNET, broken])
    assert result.returncode == 1, result.stdout
    assert "Traceback" not in result.stderr
    assert "uses.yaml:12:" in result.stderr and "stages[2].block" in result.stderr
    assert f"plugin 'broken-{kind}' (entry point '{kind} = broken_{kind}:KIND')" in result.stderr
    assert _MESSAGES[kind] in result.stderr
    assert not out.exists()


def test_specs_without_the_broken_kinds_still_build(tmp_path, broken):
    """The working plugin and built-in kinds are unaffected; a plugin claiming a built-in
    name (`mbconv`) is ignored, so b0 builds exactly as without plugins."""
    result = specc("build", SPEC, "--out", tmp_path / "ghost", path=[GHOSTNET, broken])
    assert result.returncode == 0, result.stderr
    with_plugins, plain = tmp_path / "with", tmp_path / "plain"
    assert specc("build", B0, "--out", with_plugins, path=[GHOSTNET, broken]).returncode == 0
    assert specc("build", B0, "--out", plain, path=[]).returncode == 0
    assert (with_plugins / "model.py").read_bytes() == (plain / "model.py").read_bytes()


def test_two_plugins_with_one_name_are_both_named(tmp_path):
    other = tmp_path / "other"
    _distribution(other, "ghost-copy", "ghost", "specc_ghostnet", None)
    result = specc("validate", SPEC, path=[GHOSTNET, other])
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "more than one plugin provides block kind 'ghost'" in result.stderr
    assert "'ghost-copy'" in result.stderr and "'specc-ghostnet'" in result.stderr


def test_a_plugin_failing_while_building_is_named_not_a_traceback(tmp_path):
    """A plugin that loads fine but raises inside its own lowering: exit 1, the plugin
    named, nothing written."""
    root = tmp_path / "site"
    source = (
        "import dataclasses, typing, specc_ghostnet\n"
        "class Stage(specc_ghostnet.GhostStage):\n"
        "    block: typing.Literal['ghost_fails']\n"
        "def lower(*args):\n"
        "    raise ZeroDivisionError('the plugin divided by zero')\n"
        "KIND = dataclasses.replace(\n"
        "    specc_ghostnet.KIND, name='ghost_fails', schema=Stage, lower=lower\n"
        ")\n"
    )
    _distribution(root, "fails-ghost", "ghost_fails", "fails_ghost", source)
    templates = root / "templates"
    templates.mkdir()
    shutil.copy(GHOSTNET / "specc_ghostnet" / "templates" / "ghost.py.j2", templates)
    spec = tmp_path / "uses.yaml"
    spec.write_text(
        SPEC.read_text().replace("block: ghost, kernel: 5", "block: ghost_fails, kernel: 5")
    )
    out = tmp_path / "out"
    result = specc("build", spec, "--out", out, path=[GHOSTNET, root])
    assert result.returncode == 1, result.stdout
    assert "Traceback" not in result.stderr
    assert "plugin 'fails-ghost' (entry point 'ghost_fails = fails_ghost:KIND')" in result.stderr
    assert "its `lower` failed: ZeroDivisionError: the plugin divided by zero" in result.stderr
    assert not out.exists()


_OWN_SE = (
    "import typing, specc_ghostnet\n"
    "from pydantic import Field\n"
    "from specc.blocks.kind import BlockKind\n"
    "class Stage(specc_ghostnet.GhostStage):\n"
    "    block: typing.Literal['{name}']\n"
    "    se: int = Field(0, description='a count of its own, not the SE part')\n"
    "{extra}"
    "def plan(stage, site, ctx):\n"
    "    return specc_ghostnet.KIND.plan(stage.model_copy(update={{'se': None}}), site, ctx)\n"
    "K = specc_ghostnet.KIND\n"
    "KIND = BlockKind(name='{name}', schema=Stage, plan=plan, lower=K.lower,\n"
    "                 emitter=K.emitter, channels=K.channels)\n"
)


def test_plugin_fields_named_like_builtin_ones(tmp_path):
    """A plugin's own field named like a part's field (`se`, an int here) is the plugin's:
    validate, show and build use it without touching specc's SE handling. A plugin that
    redefines a field every stage has (`stride`), which specc reads itself, is refused by
    name instead of failing later."""
    root = tmp_path / "site"
    for name, extra in (("ghost_se", ""), ("ghost_stride", "    stride: int = 1\n")):
        source = _OWN_SE.format(name=name, extra=extra)
        _distribution(root, name.replace("_", "-"), name, name, source)
    (root / "templates").mkdir()
    shutil.copy(GHOSTNET / "specc_ghostnet" / "templates" / "ghost.py.j2", root / "templates")
    base = SPEC.read_text()
    old = next(line for line in base.splitlines() if "block: ghost, kernel: 5" in line)
    new = "  - {block: ghost_se, kernel: 5, stride: 2, channels: 40, expanded: 72, se: 3}"
    spec = tmp_path / "own_se.yaml"
    spec.write_text(base.replace(old, new))
    for command in ("validate", "show"):
        result = specc(command, spec, path=[GHOSTNET, root])
        assert result.returncode == 0, result.stderr
    out = tmp_path / "out"
    assert specc("build", spec, "--out", out, path=[GHOSTNET, root]).returncode == 0
    assert (out / "model.py").exists()

    spec.write_text(base.replace(old, new.replace("ghost_se", "ghost_stride")))
    result = specc("build", spec, "--out", tmp_path / "no", path=[GHOSTNET, root])
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "its schema redefines `stride`" in result.stderr
    assert not (tmp_path / "no").exists()


# --- code from data (issue 18): whatever a plugin returns, model.py runs none of it --------

_PAYLOAD = "__import__('pathlib').Path('PWNED').touch()"
_HOSTILE = {
    # A description echoing a spec string with a newline: it would end the `# stage` comment.
    "describe": f"describe=lambda stage: 'ghost\\n{_PAYLOAD}\\n# '",
    # Closing quotes in the parameter-names text of the module docstring.
    "parameters": "emitter=dataclasses.replace(\n"
    f'    specc_ghostnet.KIND.emitter, parameters=\'x\\"\\"\\"\\n{_PAYLOAD}\\n\\"\\"\\"\'\n)',
    # Code that is not one of specc's tables, as a constructor argument.
    "arguments": "emitter=dataclasses.replace(\n"
    "    specc_ghostnet.KIND.emitter,\n"
    "    arguments=lambda plan, ctx: specc_ghostnet._arguments(plan, ctx)\n"
    f"    + [('expanded', Code({_PAYLOAD!r}))],\n)",
}


@pytest.mark.parametrize("field", sorted(_HOSTILE))
def test_nothing_a_plugin_returns_becomes_code(tmp_path, field):
    root = tmp_path / "site"
    name = f"ghost_{field}"
    source = (
        "import dataclasses, typing, specc_ghostnet\n"
        "from specc.blocks.kind import Code\n"
        "class Stage(specc_ghostnet.GhostStage):\n"
        f"    block: typing.Literal['{name}']\n"
        "KIND = dataclasses.replace(\n"
        f"    specc_ghostnet.KIND, name='{name}', schema=Stage,\n"
        f"    {_HOSTILE[field]},\n"
        ")\n"
    )
    _distribution(root, f"hostile-{field}", name, f"hostile_{field}", source)
    (root / "templates").mkdir()
    shutil.copy(GHOSTNET / "specc_ghostnet" / "templates" / "ghost.py.j2", root / "templates")
    spec = tmp_path / "uses.yaml"
    spec.write_text(
        SPEC.read_text().replace("block: ghost, kernel: 5", f"block: {name}, kernel: 5")
    )
    out = tmp_path / "out"
    result = specc("build", spec, "--out", out, path=[GHOSTNET, root, ROOT], cwd=tmp_path)
    assert "Traceback" not in result.stderr
    if result.returncode == 0:  # built: the text is inert in a comment or docstring
        python(f"import specc; specc.load_model({str(out)!r})", [GHOSTNET, ROOT])
    else:  # refused: the plugin is named, nothing written
        assert result.returncode == 1 and f"'hostile-{field}'" in result.stderr, result.stderr
        assert not out.exists()
    assert not (tmp_path / "PWNED").exists() and not Path("PWNED").exists()


def test_validate_strict_checks_a_plugins_module_against_its_ir(tmp_path):
    """`validate --strict` builds the module (meta device) and compares every IR node's
    parameters and output shape with the module of its path: the GhostNet plugin passes; a
    plugin whose IR counts a layer its template never builds is refused, the node named."""
    result = specc("validate", "--strict", SPEC, path=[GHOSTNET])
    assert result.returncode == 0, result.stderr
    assert "modules match the IR" in result.stdout
    root = tmp_path / "site"
    source = (
        "import dataclasses, typing, specc_ghostnet\n"
        "from specc.ir.graph import Scope\n"
        "from specc.ir.nodes import LayerScale\n"
        "class Stage(specc_ghostnet.GhostStage):\n"
        "    block: typing.Literal['ghost_lies']\n"
        "def lower(builder, plan, x, ctx):\n"
        "    out = specc_ghostnet.KIND.lower(builder, plan, x, ctx)\n"
        "    scope = Scope('stage', plan.stage, plan.index, 'phantom')\n"
        "    return builder.add(f'{plan.name}.phantom', LayerScale(), [out], scope)\n"
        "KIND = dataclasses.replace(\n"
        "    specc_ghostnet.KIND, name='ghost_lies', schema=Stage, lower=lower\n"
        ")\n"
    )
    _distribution(root, "lying-ghost", "ghost_lies", "lying_ghost", source)
    (root / "templates").mkdir()
    shutil.copy(GHOSTNET / "specc_ghostnet" / "templates" / "ghost.py.j2", root / "templates")
    spec = tmp_path / "lies.yaml"
    spec.write_text(
        SPEC.read_text().replace("block: ghost, kernel: 5", "block: ghost_lies, kernel: 5")
    )
    assert specc("validate", spec, path=[GHOSTNET, root]).returncode == 0  # the IR alone
    result = specc("validate", "--strict", spec, path=[GHOSTNET, root])
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "the generated module does not have the numbers its IR reports" in result.stderr
    assert "stages.2.0.phantom: the IR counts 40 parameters, the module has no" in result.stderr
