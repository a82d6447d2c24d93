"""Numbers a user reads as they are meant, and no silent change (issue 22): a MixConv
kernel [3, 5] is "3,5" (never 3.5, a kernel of three and a half) in show, diff, report.md
and architecture.json; small models' MACs in M or K (never "0.000 G"); a resolution off
its rounding grid, and strides that bring the maps to 1x1 before the last stage, warn;
`sweep --plot` without matplotlib prints the table first."""

from __future__ import annotations

import builtins
from pathlib import Path

from click.testing import CliRunner

import specc
from specc.cli import main

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "tests" / "data" / "tiny.yaml"
MIXED = "stages[1].kernel=[3, 5]"


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_a_mixed_kernel_reads_as_a_list_everywhere(tmp_path):
    show = run("show", str(TINY), "--set", MIXED)
    assert show.exit_code == 0, show.output
    assert " 3,5 " in show.output and "3.5" not in show.output
    arch = specc.compile(specc.load(TINY, [MIXED]))
    specc.write(arch, tmp_path / "gen")
    assert "| 3,5 |" in (tmp_path / "gen" / "report.md").read_text()
    record = (tmp_path / "gen" / "architecture.json").read_text()
    assert '"3,5"' in record and '"3.5"' not in record
    diff = run("diff", str(TINY), str(tmp_path / "gen"))  # (an operand's value has no comma)
    assert "3 → 3,5" in diff.output and "3.5" not in diff.output


def test_small_models_count_macs_in_m_or_k():
    show = run("show", str(TINY))
    assert "MACs 0.408 M   FLOPs 0.817 M" in show.output and "0.000 G" not in show.output
    b0 = run("show", str(ROOT / "specs" / "b0.yaml"), "--preset", "b0")
    assert "MACs 0.386 G" in b0.output  # as the papers print it
    tiny = specc.compile(specc.load(TINY, ["input.resolution=2"]))
    assert tiny.macs < 100_000
    small = run("show", str(TINY), "--set", "input.resolution=2").output
    assert f"MACs {tiny.macs / 1e3:.1f} K" in small


def test_a_resolution_off_its_grid_warns_with_what_is_built():
    result = run("show", str(TINY), "--set", "input.resolution=7", "--set",
                 "scaling.resolution.multiple=4")  # fmt: skip
    assert result.exit_code == 0
    assert (
        "input.resolution: 7 is not a multiple of 4 (scaling.resolution.multiple): built at 8"
        in result.output
    )


def test_maps_collapsing_to_one_pixel_before_the_last_stage_warn():
    result = run("show", str(ROOT / "specs" / "b0.yaml"), "--set", "input.resolution=32")
    assert "stages[6]: the network is 1x1 after stage 5 at 32 px" in result.output
    assert "1x1 after" not in run("show", str(ROOT / "specs" / "b0.yaml")).output


def test_sweep_prints_its_table_before_a_plot_it_cannot_draw(tmp_path, monkeypatch):
    real = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    csv = tmp_path / "s.csv"
    result = run(
        "sweep", str(TINY), "--phi", "0:1", "--csv", str(csv), "--plot", str(tmp_path / "p.png")
    )
    assert result.exit_code == 1
    assert "--plot needs matplotlib" in result.output and f"(wrote {csv})" in result.output
    assert result.output.index("params") < result.output.index("--plot needs")
    assert len(csv.read_text().splitlines()) == 3
