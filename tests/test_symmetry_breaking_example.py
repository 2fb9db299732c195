"""examples/symmetry_breaking.py --quick: its robust effects, and the table docs/symmetry_breaking.md quotes."""
import pathlib
import re
import runpy

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
MODELS = ["C4-invariant", "CNN", "C4 -> trivial", "relaxed C4"]
N_TEST = 597


@pytest.fixture(scope="module")
def quick():
    return runpy.run_path(str(ROOT / "examples" / "symmetry_breaking.py"))["main"](["--quick"])


def test_the_invariant_model_is_invariant_to_quarter_turns_and_every_model_breaks_continuous_rotations(quick):
    assert list(quick) == MODELS and all(len(r["upright"]) == 2 for r in quick.values())
    invariant = quick["C4-invariant"]
    # exactly C4-invariant: a quarter turn changes no prediction (up to ties broken by float rounding)
    assert np.max(np.abs(invariant["upright"] - invariant["rot90"])) <= 2 / N_TEST
    # the Lie derivative measures continuous rotations: not zero even for the C4-invariant model
    assert all(r["lie"] > 1e-3 for r in quick.values())
    # a last layer without C4 sees the orientation: near chance at 90 degrees (measured 0.09-0.19 per seed over
    # two runs); the invariant and the relaxed models keep their accuracy there (measured 0.69-0.92 per seed)
    assert np.all(quick["CNN"]["rot90"] < 0.3) and np.all(quick["C4 -> trivial"]["rot90"] < 0.3)
    assert np.all(invariant["rot90"] > 0.5) and np.all(quick["relaxed C4"]["rot90"] > 0.5)


def test_the_table_in_the_docs_is_what_the_quick_run_prints(quick):
    """Each mean accuracy within max(0.03, 2 x its quoted seed spread), each Lie derivative within 30%.

    How the tolerance was chosen: the quick run is one short trajectory per
    seed, so another CPU or XLA version (other float rounding) trains other
    models, about as different as two seeds are: the quoted spread between
    the two seeds (up to 0.28 where one seed of the CNN trains badly) sets the
    tolerance, never below 0.03 (18 of the 597 test digits).
    """
    text = (ROOT / "docs" / "symmetry_breaking.md").read_text()
    number = r"([\d.]+) \+- ([\d.]+)"
    for name in MODELS:
        row = re.search(re.escape(name) + r"\s+\d+\s+" + r"\s+".join([number] * 3) + r"\s+([\d.]+)", text)
        assert row, f"docs/symmetry_breaking.md does not quote the {name} row"
        quoted = np.asarray(row.groups(), float)
        means, spreads = quoted[0:6:2], quoted[1:6:2]
        r = quick[name]
        measured = np.array([r["upright"].mean(), r["rot30"].mean(), r["rot90"].mean()])
        assert np.all(np.abs(measured - means) <= np.maximum(0.03, 2 * spreads)), (name, measured, means)
        np.testing.assert_allclose(r["lie"], quoted[6], rtol=0.3, err_msg=name)
