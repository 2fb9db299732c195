"""Print the ``XLA_FLAGS`` of one of `make test`'s two pytest runs (not a test; the Makefile calls it).

``python tests/xla_flags.py compile``: the run of the tests that compile many small programs and run
each once or twice (most of the suite): XLA:CPU's backend (LLVM) optimisation off, and its older
elemental emitters instead of the MLIR fusion emitters.
``python tests/xla_flags.py train``: the run of the files that spend their time training (marked
``trains``, tests/conftest.py): the emitters only; LLVM optimisation on.

What they were measured to save on this project's 2-core x86 CPU (CPU seconds of a file, XLA's
defaults -> these flags): ``--xla_backend_optimization_level=0`` cuts compile-bound files by a
third (tests/test_actions.py, nn/test_layers.py, groups/test_lie.py, train/test_step.py together:
289 -> 177 s) but makes convolution training 3-4x slower (tests/test_tetris3d.py 17 -> 68 s), hence the
two runs. ``--xla_cpu_use_fusion_emitters=false``, on top of level 0: tests/functional/test_conv.py
36.6 -> 25.1 s, tests/test_actions.py 42.8 -> 32.1 s, tests/nn/test_layers.py 52.0 -> 36.6 s; at XLA's
default level tests/test_tetris3d.py 20.2 -> 15.7 s; the docs/training.md example (training-bound)
28.2 -> 27.3 s. Results are the same tests passing; only compile time changes.

The caller's ``XLA_FLAGS`` come last (a flag set there wins). XLA aborts on a flag it does not
know, so each flag is kept only where this jaxlib accepts it: one probe process starts a CPU
backend with all of them (and, should that fail, one probe per flag).
"""
import os
import subprocess
import sys

FLAGS = {
    "compile": ["--xla_backend_optimization_level=0", "--xla_cpu_use_fusion_emitters=false"],
    "train": ["--xla_cpu_use_fusion_emitters=false"],
}
PROBE = "import jax; jax.devices('cpu')"


def accepted(flags: list[str]) -> bool:
    """Whether a fresh process starts XLA:CPU with ``flags`` as its ``XLA_FLAGS``."""
    env = {**os.environ, "XLA_FLAGS": " ".join(flags), "JAX_PLATFORMS": "cpu"}
    return subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, timeout=120).returncode == 0


def main(argv: list[str]) -> str:
    if len(argv) != 1 or argv[0] not in FLAGS:
        raise SystemExit(f"usage: python tests/xla_flags.py {{{'|'.join(FLAGS)}}}")
    flags = FLAGS[argv[0]]
    if not accepted(flags):
        flags = [flag for flag in flags if accepted([flag])]
    return " ".join([*flags, os.environ.get("XLA_FLAGS", "")]).strip()


if __name__ == "__main__":
    print(main(sys.argv[1:]))
