"""Smoke tests of the command line."""
import io

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
