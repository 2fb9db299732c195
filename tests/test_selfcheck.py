"""The equivariance self-check behind ``symjax check``."""
import pytest
from rich.console import Console

from symjax import _selfcheck


@pytest.fixture(scope="module")
def rows():
    return _selfcheck.equivariance_table(quick=True)


def test_every_exact_setting_passes(rows):
    exact = [r for r in rows if r["status"] == "ok"]
    assert not [r for r in rows if r["status"] == "FAIL"]
    assert {r["layer"] for r in exact} >= {"LiftingConv", "GroupConv", "GroupBatchNorm (train)",
                                           "GroupBatchNorm (eval)", "GroupPool"}
    assert all(r["error"] <= _selfcheck.TOLERANCE for r in exact)


def test_pitfalls_are_reported_not_passed(rows):
    pitfalls = {r["setting"]: r for r in rows if r["status"] == "pitfall"}
    assert {"8x8, stride 2, SAME", "7x7, padding ((0, 2), (0, 2))", "7x7, 4x4 kernel, SAME"} <= set(pitfalls)
    assert all(r["error"] > 1e-3 and r["note"] for r in pitfalls.values())
    non_square = {r["group"]: r for r in rows if "non-square" in r["setting"]}
    assert non_square["D4"]["status"] == "n/a" and "square" in non_square["D4"]["note"]
    assert non_square["D2"]["status"] == "ok"


def test_render_table(rows):
    console = Console(record=True, width=200)
    console.print(_selfcheck.render_table(rows))
    text = console.export_text()
    assert "GroupConv" in text and "pitfall" in text and "stride 2" in text


def test_approximate_groups_are_measured_and_their_grid_elements_exact(rows):
    approx = [r for r in rows if r["status"] == "approx"]
    assert {(r["layer"], r["group"]) for r in approx} == {("LiftingConv", "C8"), ("GroupConv", "C8")}
    assert all(1e-3 < r["error"] < 1.0 and "steerable" in r["note"] for r in approx)
    grid = [r for r in rows if r["group"] == "C8" and r["status"] != "approx"]
    assert len(grid) == 1 and grid[0]["status"] == "ok" and "[0, 2, 4, 6]" in grid[0]["setting"]


@pytest.mark.parametrize("layer", ["LiftingConv", "GroupPool"])
def test_rows_report_the_public_measure_for_every_exact_group(layer, exact_group, equivariance):
    fn, x, act_in, act_out = _selfcheck._layer_fn(layer, exact_group, (7, 7))
    row = _selfcheck._row(layer, exact_group, "7x7", (7, 7), expect_exact=True)
    assert row["group"] == exact_group.name and row["status"] == "ok"
    assert row["error"] == equivariance.error(fn, exact_group, x, act_in, act_out) <= equivariance.TOL
