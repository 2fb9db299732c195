"""Smoke tests of the command line."""
import io
import sys

import pytest
from rich.console import Console

from symjax import _tour, cli


def test_info(capsys):
    assert cli.main(["info"]) == 0
    out = capsys.readouterr().out
    assert "jax" in out and "devices" in out


def test_tour_checks_every_group():
    buf = io.StringIO()
    checked = _tour.run_tour(Console(file=buf, width=120))
    assert checked["D4"] == 8 and checked["S3"] == 6
    assert "holds" in buf.getvalue()


def test_unknown_command_exits():
    with pytest.raises(SystemExit):
        cli.main(["frobnicate"])


@pytest.mark.parametrize("hidden,named", [(("sklearn", "matplotlib"), "scikit-learn and matplotlib"),
                                          (("matplotlib",), "needs matplotlib (")])
def test_demo_without_its_extras_says_what_to_install(hidden, named, tmp_path, monkeypatch, capsys):
    """Before any training: no traceback after minutes, no empty output folder, a non-zero exit code."""
    for module in hidden:
        monkeypatch.setitem(sys.modules, module, None)  # `import module` now raises ImportError
    monkeypatch.setattr("symjax._demo.run_demo", lambda **kwargs: pytest.fail("the demo started before the check"))
    monkeypatch.setattr("symjax._tour.run_tour", lambda console: pytest.fail("the tour started before the check"))
    out = tmp_path / "demo_out"
    assert cli.main(["demo", "--quick", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert named in err and "pip install 'symjax[demo]'" in err
    assert not out.exists()
