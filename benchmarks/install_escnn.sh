#!/usr/bin/env bash
# Sets up .venv-bench with torch, escnn and symjax for the peer benchmark (benchmarks/bench_escnn.py).
# escnn's py3nj compiles Fortran (Debian's gfortran); lie_learn's wheels are built against NumPy 1,
# so its Cython modules are rebuilt here against the installed NumPy 2.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v gfortran >/dev/null || { apt-get update -qq && apt-get install -y -qq gfortran; }
python3 -m venv .venv-bench
V=.venv-bench/bin
$V/pip install -q --upgrade pip
$V/pip install -q torch escnn cython setuptools wheel
$V/pip install -q -e .
if ! $V/python -c "import escnn.gspaces" 2>/dev/null; then
  SP=$($V/python -c "import site; print(site.getsitepackages()[0])")
  (cd "$SP" && "$OLDPWD/$V/python" - <<'PY'
from setuptools import setup, Extension
from Cython.Build import cythonize
import numpy, re
mods = ["lie_learn/groups/SO3", "lie_learn/representations/SO3/irrep_bases",
        "lie_learn/representations/SO3/pinchon_hoggan/pinchon_hoggan"]
# lie_learn's sources predate NumPy 2 (np.int / np.int_t) and Python 3 (a print statement in SO3.pyx).
hoggan = mods[2] + ".pyx"
with open(hoggan) as f:
    source = f.read()
with open(hoggan, "w") as f:
    f.write(re.sub(r"np\.int(_t)?\b", r"np.int64\1", source))
exts = [Extension(m.replace("/", "."), [m + ".pyx"], include_dirs=[numpy.get_include()]) for m in mods]
setup(ext_modules=cythonize(exts, language_level=2, quiet=True), script_args=["build_ext", "--inplace"])
PY
  )
fi
$V/python -c "import escnn.gspaces, torch; print('escnn ready, torch', torch.__version__)"
