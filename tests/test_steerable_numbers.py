"""The steerable numbers of the docs against their records, and one of them recomputed.

benchmarks/README.md ("## Steerable convolutions (issue 13)") and docs/steerable.md
("## Measured") quote what ``python -m symjax.bench.steerable`` and
``benchmarks/bench_steerable.py`` measured; the runs are recorded in
benchmarks/results/cpu_steerable*.json (the commands are in the README):

- ``cpu_steerable.json``: off-grid errors, band limits, D16 construction, train steps;
- ``cpu_steerable_escnn.json``: escnn's off-grid errors (``.venv-bench``);
- ``cpu_steerable_build.json``: the D16 construction in a fresh process, both kernels;
- ``cpu_steerable_digits.json``: the digits runs (C8, seeds 0-2, plain and with the levers);
- ``cpu_steerable_digits_escnn_profile.json``: the same with escnn's radial profile (the default before).

``test_quoted_numbers_are_the_records``: every number of the two sections with a decimal
point or an exponent is checked against these records (equal after the quoted rounding:
within half a unit of its last digit), unless it is a setting (a ``sigma``, a length in px,
an angle in degrees, Adam's learning rate, a version), in a code span (options, targets such
as ``1.05x``) or a command, or marked as not recorded (between ``<!-- unrecorded -->`` and
``<!-- /unrecorded -->``); the numbers issue 13 quotes are checked against the issue's values
(:data:`ISSUE13`), the two readout errors on the input itself are recomputed (half a second).
A number none of these covers fails the test with its text: a new number needs a record and
a check. Integers (seeds, sizes, the commands' run times) are not checked. The timings
(construction seconds, train-step ratios) are checked against the record only: they depend
on the machine and its load, no test can reproduce them.

``test_c8_seed0_offgrid_error_is_recomputed``: the one network measurement the suite recomputes.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
README = ROOT / "benchmarks" / "README.md", "## Steerable convolutions (issue 13)"
DOCS = ROOT / "docs" / "steerable.md", "## Measured"

NUMBER = re.compile(r"(?<![\w.])(?:\d+\.\d+(?:e[-+]?\d+)?|\d+e[-+]?\d+)(?!\d|\.\d|[A-Za-wyz_])")
"""A quoted measurement: a number with a decimal point or an exponent (integers are counts and sizes), maybe a
ratio (``0.71x``)."""
NOT_MEASURED = re.compile(
    r"(?s:<!-- unrecorded -->.*?<!-- /unrecorded -->)"  # marked as not recorded
    r"|`sigma` \d+(?:\.\d+)?(?: to \d+)?|\d+(?:\.\d+)?\s+(?:px|degrees)|Adam \d+e-\d+"  # settings
    r"|`[^`]*`"  # code spans (options, settings, targets), across line breaks as in markdown
    r"|^ {4}.*$"  # indented code: the commands
    r"|\d+\.\d+\.\d+",  # versions
    re.M)
ISSUE13 = {"C8": 3.91e-3, "C16": 3.06e-3, "ongrid": 1e-7, "digits C8": (0.83, 0.48, 0.57), "digits C16": (0.89, 0.48)}
"""What issue 13 quotes for escnn: off-grid errors (other inputs), 'about 1e-7' on the grid; digits, C8 (two seeds)
and C16: accuracy at the multiples of 90 degrees, then at the other angles (range)."""


def _records() -> dict:
    load = lambda name: json.loads((RESULTS / f"cpu_steerable{name}.json").read_text())  # noqa: E731
    return {"core": load(""), "escnn": load("_escnn")["escnn"], "build": load("_build"),
            "digits": load("_digits")["digits"], "digits_escnn_profile": load("_digits_escnn_profile")["digits"],
            "seeds24": load("_seeds24"), "escnn24": load("_escnn_seeds24")["escnn"],
            "c16": load("_digits_c16")["digits"], "c16_escnn_profile": load("_digits_c16_escnn_profile")["digits"]}


def _agrees(quoted: str, value: float) -> bool:
    """``value`` rounds to ``quoted`` at its last digit (half a unit of it, plus float slack)."""
    mantissa, _, exponent = quoted.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    return abs(value - float(quoted)) <= 0.5 * 10.0 ** (int(exponent or 0) - decimals) * (1 + 1e-6)


class Section:
    """One section of a markdown file; records which of its numbers were checked."""

    def __init__(self, path: Path, heading: str):
        text = path.read_text()
        assert heading in text, f"{path.relative_to(ROOT)} has no section {heading!r}"
        start = text.index(heading)
        end = text.find("\n## ", start + len(heading))
        self.text = text[start:] if end < 0 else text[start:end]
        self.name = f"{path.relative_to(ROOT)}, {heading.lstrip('# ')!r}"
        self.checked: set[int] = set()
        self.failures: list[str] = []

    def _check(self, start: int, quoted: str, value: float, what: str, bound: bool = False) -> None:
        self.checked.add(start)
        if not (value < float(quoted) if bound else _agrees(quoted, value)):
            self.failures.append(f"{what}: quoted {'below ' if bound else ''}{quoted}, recorded {value:.6g}")

    def claim(self, pattern: str, values, what: str, bound: bool = False) -> None:
        """The numbers at ``NUM`` in ``pattern`` (its first match; a space matches any whitespace) are ``values``.

        ``bound``: each quoted number is an upper bound ("below 1e-7") rather than a rounded value.
        """
        regex = pattern.replace(" ", r"\s+").replace("NUM", r"(\d+\.\d+(?:e-?\d+)?|\d+e-?\d+)")
        m = re.search(regex, self.text, re.M | re.S)
        if m is None:
            self.failures.append(f"no longer says {what} (pattern {pattern!r})")
            return
        for i, value in enumerate(values, 1):
            self._check(m.start(i), m.group(i), value, f"{what} [{i}]", bound)

    def verdict(self) -> list[str]:
        """The failed checks and the numbers left unchecked, each line naming the file."""
        return [f"{self.name}: {f}" for f in self.failures] + [
            f"{self.name}: unchecked number {u} (add a record and a check, or mark it unrecorded)"
            for u in self.unchecked()]

    def table(self, header: str, expected) -> None:
        """Each cell of the table whose header starts with ``header``: its numbers are ``expected(row, column)``.

        ``row`` maps the column headers to the row's cells (stripped); ``expected`` returns the
        values of the cell in order (``[]`` for a cell without numbers).
        """
        lines = [(m.start(), m.group(0)) for m in re.finditer(r"^\|.*\|$", self.text, re.M)]
        first = next((i for i, (_, line) in enumerate(lines) if line.startswith(f"| {header}")), None)
        if first is None:
            self.failures.append(f"no table with header {header!r}")
            return
        columns = [c.strip() for c in lines[first][1].strip("|").split("|")]
        end = lines[first + 1][0] + len(lines[first + 1][1]) + 1  # the rows follow the separator line by line
        for start, line in lines[first + 2:]:
            if start != end:
                break
            end = start + len(line) + 1
            cells, offset = line.split("|")[1:-1], start + 1
            row = {column: cell.strip() for column, cell in zip(columns, cells)}
            label = cells[0].strip()
            for column, cell in zip(columns, cells):
                numbers = list(NUMBER.finditer(cell)) if column != columns[0] else []
                want = [] if column == columns[0] else list(expected(row, column))
                if len(numbers) != len(want):
                    self.failures.append(f"table {header!r}, row {label!r}, column {column!r}: {len(numbers)} "
                                         f"numbers quoted ({cell.strip()!r}), {len(want)} recorded")
                for m, value in zip(numbers, want):
                    self._check(offset + m.start(), m.group(0), value, f"table {header!r}, {label!r}, {column!r}")
                offset += len(cell) + 1

    def unchecked(self) -> list[str]:
        """Numbers of the section neither checked nor exempt (settings, code, marked unrecorded)."""
        exempt = [m.span() for m in NOT_MEASURED.finditer(self.text)]
        return [f"{m.group(0)!r} in ...{self.text[max(0, m.start() - 50):m.end() + 20]!r}..."
                for m in NUMBER.finditer(self.text)
                if m.start() not in self.checked and not any(a <= m.start() < b for a, b in exempt)]


def _input_quadrature() -> dict:
    """Off-grid error of the readouts on the analytic input itself (no network): deterministic, 0.5 s.

    Recomputed here rather than recorded: ``{(group, window): mean over the off-grid elements}``.
    """
    import jax.numpy as jnp

    from symjax import symmetry
    from symjax.bench import steerable

    out = {}
    for name in ("C8", "C16"):
        for window in steerable.WINDOWS:
            w = jnp.asarray(steerable.readout_window(33, 8.0, window))[None, :, :, None]
            errors = symmetry.offgrid_equivariance(lambda x, w=w: jnp.sum(x * w, axis=(1, 2)) / jnp.sum(w),
                                                   steerable.GROUPS[name], size=33)
            out[name, window] = errors.offgrid_mean()
    return out


def _tables(r: dict) -> dict:
    """The records keyed for the checks."""
    core = r["core"]
    off = {(o["group"], o["kernel"]): o for o in core["offgrid"]}
    escnn = {(e["group"], e["window"]): e for e in r["escnn"]}
    off.update({(g, "escnn"): e for (g, w), e in escnn.items() if w == "disc"})
    return {"off": off, "escnn": escnn, "bands": {(b["group"], b["window"], b["band"]): b for b in core["bands"]},
            "train": {(t["group"], t["kernel"]): t for t in core["train"]},
            "build": {b["kernel"]: b for b in r["build"]}, "core_build": core["build"],
            "digits": _by_run(r["digits"]), "digits_escnn_profile": _by_run(r["digits_escnn_profile"]),
            "seeds24": {(b["group"], b["window"], b["band"]): b for b in r["seeds24"]},
            "escnn24": {(e["group"], e["window"]): e for e in r["escnn24"]},
            "c16": _by_run(r["c16"]), "c16_escnn_profile": _by_run(r["c16_escnn_profile"])}


def _by_run(digits: list) -> dict:
    return {("levers" if d["levers"] else "plain", d["seed"]): d for d in digits}


def _digit_values(d: dict) -> dict:
    """One digits run: final loss, accuracy on / off the grid (worst), spread, rotated and back off the grid."""
    on = [a for angle, a in d["accuracy"].items() if float(angle) % 90 == 0]
    back = [a for angle, a in d["round_trip"].items() if float(angle) % 90 != 0]
    return {"loss": d["final_loss"], "on": float(np.mean(on)), "worst": d["worst"], "spread": d["spread"],
            "back": float(np.mean(back)) if back else None}


def _span(values) -> list[float]:
    return [min(values), max(values)]


def _check_digits(s: Section, digits: dict, readme: bool, before: dict | None = None) -> None:
    runs = {key: _digit_values(d) for key, d in digits.items()}
    plain = [runs["plain", seed] for seed in range(3)]
    levers = [runs["levers", seed] for seed in range(3)]
    if readme:
        old = {key: _digit_values(d) for key, d in before.items()}
        mean = lambda runs, kind: float(np.mean([runs[kind, i]["worst"] for i in range(3)]))  # noqa: E731
        s.claim(r"with the levers NUM, NUM and NUM at the worst angle \(spread NUM-NUM\), plain NUM, NUM and NUM: no "
                r"loss of accuracy from the pulled-in ring \(means with the levers NUM against NUM, plain NUM against "
                r"NUM\)", [old["levers", i]["worst"] for i in range(3)]
                + _span([old["levers", i]["spread"] for i in range(3)]) + [old["plain", i]["worst"] for i in range(3)]
                + [mean(runs, "levers"), mean(old, "levers"), mean(runs, "plain"), mean(old, "plain")],
                "the digits with escnn's radial profile")

        def cell(row, column):
            label = next(iter(row.values()))
            if label.startswith("escnn"):
                quoted = ISSUE13["digits C16" if "C16" in label else "digits C8"]
                return {"multiples of 90 degrees": quoted[:1], "other angles (worst)": quoted[1:]}.get(column, [])
            run = runs["levers" if "--disc" in label else "plain", int(row["seed"])]
            key = {"final train loss": "loss", "multiples of 90 degrees": "on", "other angles (worst)": "worst",
                   "spread": "spread", "rotated and back, off the grid": "back"}.get(column)
            return [run[key]] if key else []

        s.table("C8 steerable, options", cell)
        s.claim(r"within NUM of its upright accuracy", [max(abs(r["on"] - r["back"]) for r in plain)],
                "what the resamplings lose")
        s.claim(r"the spread is NUM-NUM on the three seeds with them \(issue 13's target: at most `0.05`\), "
                r"against NUM-NUM without", _span([r["spread"] for r in levers]) + _span([r["spread"] for r in plain]),
                "the spreads")
        s.claim(r"Worst angle with the levers: NUM, NUM and NUM on seeds 0, 1 and 2 \(mean NUM\), well above "
                r"escnn's NUM-NUM \(issue 13\)", [r["worst"] for r in levers] + [np.mean([r["worst"] for r in levers]),
                                                  *ISSUE13["digits C8"][1:]], "the worst angles")
        assert min(r["worst"] for r in levers) >= 0.70, "the README says the 0.70 target holds on all three seeds"
        s.claim(r"Seed 1 ended at a higher loss \(NUM against NUM and NUM\): what limits it is upright accuracy "
                r"\(NUM\)", [levers[1]["loss"], levers[0]["loss"], levers[2]["loss"], levers[1]["on"]],
                "seed 1 with the levers")
        return
    s.claim(r"escnn's model shape gives NUM-NUM at the multiples of 90 degrees and NUM-NUM at the other angles "
            r"\(spread NUM-NUM\)", _span([r["on"] for r in plain]) + _span([r["worst"] for r in plain])
            + _span([r["spread"] for r in plain]), "the plain digits model")
    s.claim(r"gives a spread of NUM-NUM and a worst angle of NUM, NUM and NUM \(seeds 0-2; escnn, quoted in issue 13: "
            r"NUM-NUM\)", _span([r["spread"] for r in levers]) + [r["worst"] for r in levers]
            + list(ISSUE13["digits C8"][1:]), "the digits model with the levers")


def _check_readme(s: Section, t: dict, quadrature: dict) -> None:
    off, escnn, bands, train = t["off"], t["escnn"], t["bands"], t["train"]

    def offgrid_cell(row, column):
        label = row["off-grid invariance error, mean (median) of 8 seeds"]
        kind = "issue" if "issue 13" in column else column if column in ("bilinear", "steerable") else "escnn"
        if label.startswith("on the grid"):
            return [ISSUE13["ongrid"]] if kind == "issue" else [max(off[g, kind]["ongrid_max"] for g in ("C8", "C16"))]
        g = label.split()[0]
        return [ISSUE13[g]] if kind == "issue" else [off[g, kind]["offgrid_mean"], off[g, kind]["offgrid_median"]]

    s.table("off-grid invariance error, mean (median) of 8 seeds", offgrid_cell)
    s.table("off-grid error per initialisation seed", lambda row, column: [
        off[tuple(row["off-grid error per initialisation seed"].split())]["offgrid_seeds"][int(column)]])
    s.claim(r"steerable net of seed 0 \(NUM, first row", [off["C8", "steerable"]["offgrid_seeds"][0]],
            "the number the suite recomputes")
    steer8, steer16 = off["C8", "steerable"]["per_angle"], off["C16", "steerable"]["per_angle"]
    s.claim(r"C8 45 degrees NUM", [steer8["45"]], "the C8 steerable error at 45 degrees")
    s.claim(r"C16 22\.5 degrees NUM, 45 degrees NUM, 67\.5 degrees NUM",
            [steer16["22.5"], steer16["45"], steer16["67.5"]], "the C16 steerable errors per angle")
    s.claim(r"moves by NUM at C8 and NUM at C16", [quadrature["C8", "disc"], quadrature["C16", "disc"]],
            "the disc readout's error on the input itself (recomputed)")
    s.claim(r"below NUM for the input itself", [max(quadrature["C8", "gaussian"], quadrature["C16", "gaussian"])],
            "the Gaussian readout's error on the input itself (recomputed)", bound=True)

    def band_cell(row, column):
        label = row["off-grid error"]
        band = {"default": "default", "`escnn`": "escnn", "`outer1`": "outer1", "`outer0`": "outer0"}.get(column)
        if label.startswith("on the grid"):
            entries = [b for b in bands.values() if b["band"] == band] if band else list(escnn.values())
            return [max(e["ongrid_max"] for e in entries)]
        g, w = label.split(", ")
        e = bands[g, w, band] if band else escnn[g, w]
        return [e["offgrid_mean"], e["offgrid_median"]]

    s.table("off-grid error | default", band_cell)
    ratio = {(g, w, b): bands[g, w, b]["offgrid_mean"] / escnn[g, w]["offgrid_mean"]
             for g in ("C8", "C16") for w in ("disc", "gaussian") for b in ("default", "outer0")}
    paired = {(g, w): bands[g, w, "default"]["offgrid_mean"] / bands[g, w, "escnn"]["offgrid_mean"]
              for g in ("C8", "C16") for w in ("disc", "gaussian")}
    s.claim(r"in all four rows: NUMx and NUMx its mean with the disc readout \(C8, C16\), NUMx and NUMx with the "
            r"Gaussian one; against escnn's own profile on the same draws \(`escnn`, the same basis as escnn's\) NUMx "
            r"and NUMx \(disc\), NUMx and NUMx \(gaussian\)",
            [ratio["C8", "disc", "default"], ratio["C16", "disc", "default"], ratio["C8", "gaussian", "default"],
             ratio["C16", "gaussian", "default"], paired["C8", "disc"], paired["C16", "disc"],
             paired["C8", "gaussian"], paired["C16", "gaussian"]], "the default against escnn")
    assert all(ratio[g, w, "default"] < 1 for g in ("C8", "C16") for w in ("disc", "gaussian")), \
        "the README says the default is below escnn's error in all four rows"
    s24, e24 = t["seeds24"], t["escnn24"]
    assert all(len(e["offgrid_seeds"]) == 24 for e in (*s24.values(), *e24.values()))
    mean24 = lambda g, w, band: s24[g, w, band]["offgrid_mean"]  # noqa: E731
    s.claim(r"C8 / C16: the default NUM / NUM \(disc\) and NUM / NUM \(gaussian\); escnn's profile NUM / NUM and "
            r"NUM / NUM; escnn 1.0.11 \(torch seeds 0-23\) NUM / NUM and NUM / NUM\. The default against escnn: NUMx "
            r"and NUMx with the disc readout \(the first 8 seeds: NUMx and NUMx\), NUMx and NUMx with the Gaussian one",
            [mean24(g, w, b) for b in ("default", "escnn") for w in ("disc", "gaussian") for g in ("C8", "C16")]
            + [e24[g, w]["offgrid_mean"] for w in ("disc", "gaussian") for g in ("C8", "C16")]
            + [mean24(g, "disc", "default") / e24[g, "disc"]["offgrid_mean"] for g in ("C8", "C16")]
            + [ratio[g, "disc", "default"] for g in ("C8", "C16")]
            + [mean24(g, "gaussian", "default") / e24[g, "gaussian"]["offgrid_mean"] for g in ("C8", "C16")],
            "the 24-seed comparison")
    s.claim(r"reached by `outer0` \(NUMx at C8, NUMx at C16, gaussian\), not by the default \(over the 24 seeds below, "
            r"NUMx at best\)", [ratio["C8", "gaussian", "outer0"], ratio["C16", "gaussian", "outer0"],
                                min(mean24(g, w, "default") / e24[g, w]["offgrid_mean"]
                                    for g in ("C8", "C16") for w in ("disc", "gaussian"))], "half of escnn's error")
    build = t["build"]
    s.table("D16 net, eager `init`", lambda row, column: [
        build["bilinear" if row["D16 net, eager `init`"].startswith("bilinear") else "steerable"][k]
        for k in (("first_s", "first_cpu_s") if column == "first call" else ("second_s", "second_cpu_s"))])
    core_build = t["core_build"]
    s.claim(r"steerable first call took NUM s wall, NUM s CPU", [core_build["first_s"], core_build["first_cpu_s"]],
            "the D16 construction of the full run")

    def train_cell(row, column):
        step = train[next(iter(row.values())).split(",")[0], column]
        return [step["ratio"], *step["ratio_iqr"]]

    s.table("train step: ratio", train_cell)
    off8, off16 = off["C8", "bilinear"]["offgrid_mean"], off["C16", "bilinear"]["offgrid_mean"]
    s.claim(r"cuts the off-grid invariance error NUMx \(C8\) and NUMx \(C16\)",
            [off8 / off["C8", "steerable"]["offgrid_mean"], off16 / off["C16", "steerable"]["offgrid_mean"]],
            "steerable against bilinear")
    s.claim(r"float rounding: at most NUM\)", [max(off[g, "steerable"]["ongrid_max"] for g in ("C8", "C16"))],
            "the steerable on-grid error")
    s.claim(r"steerable medians \(NUM, NUM, NUM for C8, D8, C16\)",
            [train[g, "steerable"]["ratio"] for g in ("C8", "D8", "C16")], "the steerable train-step ratios")
    every = all(tr["ratio_iqr"][0] <= 1 <= tr["ratio_iqr"][1] for tr in train.values())
    s.claim(r"every IQR contains NUM", [1.0 if every else float("nan")], "every train-step IQR contains 1")
    s.claim(r"upper quartiles up to NUM", [max(train[g, "steerable"]["ratio_iqr"][1] for g in ("C8", "D8", "C16"))],
            "the largest upper quartile of the steerable train-step ratios")
    s.claim(r"not in CPU time:\s+NUM s wall, NUM s CPU", [build["steerable"]["first_s"], build["steerable"]["first_cpu_s"]],
            "the D16 first call")
    s.claim(r"the bilinear\s+construction's: NUM s\); the second call takes NUM s",
            [build["bilinear"]["first_s"], build["steerable"]["second_s"]], "the D16 calls")
    _check_digits(s, t["digits"], readme=True, before=t["digits_escnn_profile"])
    _check_c16(s, t["c16"], t["c16_escnn_profile"])


def _check_c16(s: Section, default: dict, escnn: dict) -> None:
    """The C16 digits table and what the README draws from it."""
    runs = {"default": {k: _digit_values(d) for k, d in default.items()},
            "escnn": {k: _digit_values(d) for k, d in escnn.items()}}

    def cell(row, column):
        label = row["C16 steerable, options"]
        run = runs["escnn" if "escnn" in label else "default"]["levers" if "--disc" in label else "plain", int(row["seed"])]
        key = {"final train loss": "loss", "multiples of 90 degrees": "on", "other angles (worst)": "worst",
               "spread": "spread"}.get(column)
        return [run[key]] if key else []

    s.table("C16 steerable, options", cell)
    worst = {(p, kind): [runs[p][kind, i]["worst"] for i in range(3)] for p in runs for kind in ("plain", "levers")}
    loss = {(p, kind): [runs[p][kind, i]["loss"] for i in range(3)] for p in runs for kind in ("plain", "levers")}
    s.claim(r"seed 0 stays near chance with both profiles \(loss NUM\), and so does seed 1 with the default \(loss "
            r"NUM\)\. The issue's targets are C8's; escnn's C16 \(quoted in issue 13\) reached NUM and NUM",
            [loss["default", "levers"][0], loss["default", "levers"][1], *ISSUE13["digits C16"]], "C16 training")
    assert max(loss["escnn", "levers"][0], loss["default", "levers"][0]) > 1.9  # "near chance" (2.30) with both
    s.claim(r"worst angle NUM against NUM in the mean of the three plain runs \(higher on every seed\), NUM against "
            r"NUM with the levers", [np.mean(worst["escnn", "plain"]), np.mean(worst["default", "plain"]),
                                    np.mean(worst["escnn", "levers"]), np.mean(worst["default", "levers"])],
            "C16: escnn's profile against the default")
    assert all(e > d for e, d in zip(worst["escnn", "plain"], worst["default", "plain"]))
    assert sum(d > e for e, d in zip(loss["escnn", "plain"], loss["default", "plain"])) == 2  # "on two of the three"


def _check_docs(s: Section, t: dict) -> None:
    off, escnn, build, train = t["off"], t["escnn"], t["build"], t["train"]
    bands = t["bands"]
    s.claim(r"C8 NUM \(NUM\) and C16 NUM \(NUM\) against escnn's NUM \(NUM\) and NUM \(NUM\), and the bilinear "
            r"kernels' NUM and NUM",
            [off["C8", "steerable"]["offgrid_mean"], off["C8", "steerable"]["offgrid_median"],
             off["C16", "steerable"]["offgrid_mean"], off["C16", "steerable"]["offgrid_median"],
             escnn["C8", "disc"]["offgrid_mean"], escnn["C8", "disc"]["offgrid_median"],
             escnn["C16", "disc"]["offgrid_mean"], escnn["C16", "disc"]["offgrid_median"],
             off["C8", "bilinear"]["offgrid_mean"], off["C16", "bilinear"]["offgrid_mean"]],
            "the off-grid errors")
    ratio = {(g, w, b): bands[g, w, b]["offgrid_mean"] / escnn[g, w]["offgrid_mean"]
             for g in ("C8", "C16") for w in ("disc", "gaussian") for b in ("default", "outer0")}
    s.claim(r"NUMx and NUMx escnn's mean, and NUMx and NUMx with a smooth \(Gaussian\) readout",
            [ratio[g, w, "default"] for w in ("disc", "gaussian") for g in ("C8", "C16")], "the default against escnn")
    s24, e24 = t["seeds24"], t["escnn24"]
    s.claim(r"readout, which leaves out the disc's own quadrature error \(over 24 seeds: NUMx, NUMx, NUMx and NUMx\)",
            [s24[g, w, "default"]["offgrid_mean"] / e24[g, w]["offgrid_mean"]
             for w in ("disc", "gaussian") for g in ("C8", "C16")], "the 24-seed ratios")
    s.claim(r"the same draws give NUM and NUM: the default pulls",
            [bands[g, "disc", "escnn"]["offgrid_mean"] for g in ("C8", "C16")], "escnn's profile")
    s.claim(r"lowers the error further, NUMx escnn's mean at C8 and NUMx at C16",
            [ratio[g, "disc", "outer0"] for g in ("C8", "C16")], "outer0 against escnn")
    s.claim(r"exact on the grid: at most NUM", [max(off[g, "steerable"]["ongrid_max"] for g in ("C8", "C16"))],
            "the steerable on-grid error")
    s.claim(r"NUM s wall, NUM s CPU, for the first eager `init`", [build["steerable"]["first_s"],
            build["steerable"]["first_cpu_s"]], "the D16 first call")
    s.claim(r"NUM s for the second", [build["steerable"]["second_s"]], "the D16 second call")
    s.claim(r"C16 nets: NUMx, NUMx and NUMx a plain", [train[g, "steerable"]["ratio"] for g in ("C8", "D8", "C16")],
            "the steerable train-step ratios")
    _check_digits(s, t["digits"], readme=False)
    c16 = {p: np.mean([_digit_values(t[key]["plain", i])["worst"] for i in range(3)])
           for p, key in (("escnn", "c16_escnn_profile"), ("default", "c16"))}
    s.claim(r"escnn's radial profile did better \(worst angle NUM against NUM over seeds 0-2, plain\)",
            [c16["escnn"], c16["default"]], "C16 digits")


def test_quoted_numbers_are_the_records():
    """Every number of the two sections is its record after the quoted rounding, or exempt (module docstring).

    Two numbers have no record: the readouts' error on the analytic input itself ("moves by
    1.0e-2 at C8 and 8.2e-3 at C16", "below 1e-7"), recomputed here (no network, half a second;
    deterministic: 1.0168e-2 and 8.2190e-3 with the suite's XLA flags and with the defaults).
    """
    t = _tables(_records())
    readme, docs = Section(*README), Section(*DOCS)
    _check_readme(readme, t, _input_quadrature())
    _check_docs(docs, t)
    problems = readme.verdict() + docs.verdict()
    assert not problems, "\n".join(problems)


def test_c8_seed0_offgrid_error_is_recomputed():
    """The off-grid error of the C8 steerable net of seed 0 (README, seed table): recomputed, within 1%.

    The measure is deterministic (fixed inputs and initialisation key); only float rounding
    moves it. Measured: 4.747983e-3 with XLA's defaults and with the suite's flags (backend
    optimisation off, elemental emitters) alike (escnn's radial profile, the default before:
    5.791393e-3 and 5.791367e-3, a relative change of 4.5e-6).
    Another CPU or XLA version reorders the float32 sums of a 4-layer net: about 1e-6 of
    the output, 2e-4 of this error (a difference of outputs 6e-3 of their size) at worst; 1%
    is 50x that, and 20x smaller than the spread between seeds (1.8e-3 to 9.7e-3) or the
    change a radial profile or initialisation change makes (escnn's profile: 5.79e-3).
    On the grid the net stays exact (float rounding, below 1e-6). 1.5 s of CPU.
    """
    from symjax.bench import steerable

    record = next(o for o in _records()["core"]["offgrid"] if (o["group"], o["kernel"]) == ("C8", "steerable"))
    measured = steerable.offgrid("C8", "steerable", seeds=1)
    assert measured["offgrid_seeds"][0] == pytest.approx(record["offgrid_seeds"][0], rel=0.01)
    assert measured["ongrid_max"] < 1e-6
