"""symjax: symmetry in deep learning with JAX.

Finite and Lie groups as pure data (:mod:`symjax.groups`), their actions on
images, group feature maps, vectors and sets (:mod:`symjax.actions`, over
the pixel-grid geometry of :mod:`symjax.geometry`),
group-equivariant layers over one functional core (:mod:`symjax.functional`,
:mod:`symjax.nn` for Flax Linen, :mod:`symjax.nnx` for Flax NNX), symmetry
removal and measures of symmetry (:mod:`symjax.symmetry`, :mod:`symjax.optim`)
and a trainer that composes them (:mod:`symjax.train`).

Submodules are imported on first use, so ``import symjax`` stays cheap.
``symjax.EquivarianceWarning`` (from :mod:`symjax.geometry`) is what the
convolutions warn when their configuration cannot be exactly equivariant.

>>> import symjax
>>> symjax.groups.dihedral(4).order
8
"""
import importlib

__version__ = "0.1.0"

_SUBMODULES = ("groups", "geometry", "actions", "functional", "nn", "nnx", "symmetry", "optim", "train", "xla")
__all__ = list(_SUBMODULES) + ["EquivarianceWarning", "__version__"]


def __getattr__(name: str):
    if name in _SUBMODULES:
        module = importlib.import_module(f"symjax.{name}")
        globals()[name] = module
        return module
    if name == "EquivarianceWarning":
        return importlib.import_module("symjax.geometry").EquivarianceWarning
    raise AttributeError(f"module 'symjax' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
