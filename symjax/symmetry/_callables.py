"""The function a measure evaluates: NNX modules are called on a copy, so measuring never changes them.

A measure vmaps ``f`` over the group elements. An NNX module (or its bound
method) is split into ``(graphdef, state)`` once and merged into a fresh copy
at every call, so batch statistics and random-stream counters written in
``train()`` mode land on the copy. Any other callable is called as given; if it
writes NNX state from inside the vmap (a closure over a module in ``train()``
mode, an ``nnx.jit`` function that takes the module as an argument), flax
raises ``TraceContextError`` and may leave the module without its attributes:
:func:`explained_trace_errors` puts the modules reachable from ``f`` back and
raises a ``TypeError`` that explains the pattern.
"""

from __future__ import annotations

import contextlib
import inspect
from typing import Any, Callable, Iterator

import jax
from flax import errors, nnx

# How deep explained_trace_errors looks through closures, partials and wrappers for modules.
_SEARCH_DEPTH = 4
# Functions of these packages are followed through their attributes only, not their globals and closures.
_LIBRARIES = ("jax", "jaxlib", "flax", "numpy", "optax")

PATTERN = (
    "pass the module itself (f=model, or a bound method such as model.features): the measure calls a copy "
    "and leaves model unchanged; or call it functionally: graphdef, state = nnx.split(model); "
    "f = lambda x: nnx.merge(graphdef, state, copy=True)(x)"
)


def _module_of(f: Any) -> nnx.Module | None:
    if isinstance(f, nnx.Module):
        return f
    if inspect.ismethod(f) and isinstance(f.__self__, nnx.Module):
        return f.__self__
    return None


def as_function(f: Callable, name: str = "f") -> Callable:
    """Return ``f`` as a callable that leaves every NNX module it belongs to unchanged.

    An ``nnx.Module`` is called (a bound method of one is looked up) on a fresh
    copy ``nnx.merge(graphdef, state, copy=True)`` in the mode the module is
    in (``train()`` or ``eval()``); any other callable is returned as it is.

    Args:
      f: a callable, an ``nnx.Module`` or a bound method of one.
      name: the argument's name in error messages.

    Returns:
      A callable with ``f``'s signature.

    Raises:
      TypeError: if ``f`` is not callable.

    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> layer = nnx.BatchNorm(2, rngs=nnx.Rngs(0))  # train mode: updates its running mean
    >>> as_function(layer)(jnp.ones((3, 2))).shape, layer.mean[...].tolist()
    ((3, 2), [0.0, 0.0])
    """
    if not callable(f):
        raise TypeError(f"{name} must be a callable (a function or an nnx.Module), got {f!r}")
    module = _module_of(f)
    if module is None:
        return f
    graphdef, state = nnx.split(module)
    method = None if module is f else f.__name__

    def call(*args, **kwargs):
        copy = nnx.merge(graphdef, state, copy=True)
        return (copy if method is None else getattr(copy, method))(*args, **kwargs)

    return call


def _children(obj: Any) -> list:
    """What ``obj`` refers to: its items, or its closure, globals, partial arguments and wrapped function."""
    if isinstance(obj, (list, tuple, set)):
        return list(obj)
    if isinstance(obj, dict):
        return list(obj.values())
    if not callable(obj):
        return []
    found = [getattr(obj, attr, None) for attr in ("__self__", "__wrapped__", "func", "fun")]
    found += list(getattr(obj, "args", None) or ()) + list((getattr(obj, "keywords", None) or {}).values())
    if str(getattr(obj, "__module__", None)).split(".")[0] in _LIBRARIES:
        return found
    found += list(getattr(obj, "__defaults__", None) or ())
    code, names = getattr(obj, "__code__", None), getattr(obj, "__globals__", None) or {}
    if code is not None:
        found += [names[n] for n in code.co_names if n in names]
    for cell in getattr(obj, "__closure__", None) or ():
        with contextlib.suppress(ValueError):
            found.append(cell.cell_contents)
    return found


def reachable_modules(f: Any, depth: int = _SEARCH_DEPTH) -> list[nnx.Module]:
    """The NNX modules ``f`` refers to through closures, globals, partials, bound methods and wrappers.

    >>> from flax import nnx
    >>> layer = nnx.Linear(2, 2, rngs=nnx.Rngs(0))
    >>> reachable_modules(lambda x: layer(x)) == [layer]
    True
    """
    found, seen, frontier = [], set(), [f]
    for _ in range(depth + 1):
        following = []
        for obj in frontier:
            if id(obj) in seen or inspect.ismodule(obj) or isinstance(obj, type):
                continue
            seen.add(id(obj))
            if isinstance(obj, nnx.Module):
                found.append(obj)
            else:
                following += _children(obj)
        frontier = following
    return found


@contextlib.contextmanager
def explained_trace_errors(f: Any, name: str = "f") -> Iterator[None]:
    """Turn flax's ``TraceContextError`` raised by ``f`` into a ``TypeError`` that explains the pattern.

    The modules reachable from ``f`` (:func:`reachable_modules`) are saved
    first and put back as they were when the error is raised (flax may have
    emptied them half-way through an update).

    >>> from flax import errors
    >>> try:
    ...     with explained_trace_errors(print):
    ...         raise errors.TraceContextError("Cannot mutate Param from a different trace level")
    ... except TypeError as err:
    ...     print(str(err).split(":")[0])
    f changes NNX state from inside the vmap over the group elements
    """
    modules = reachable_modules(f)
    nodes = [node for module in modules for _, node in nnx.iter_graph(module) if isinstance(node, nnx.Pytree)]
    attributes = [dict(vars(node)) for node in nodes]
    states = [jax.tree.map(lambda value: value, nnx.state(module)) for module in modules]
    try:
        yield
    except errors.TraceContextError as err:
        for node, saved in zip(nodes, attributes):
            vars(node).clear()
            vars(node).update(saved)
        for module, state in zip(modules, states):
            nnx.update(module, state)
        raise TypeError(
            f"{name} changes NNX state from inside the vmap over the group elements: a closure over a module in "
            f"train() mode, or an nnx.jit function that takes the module as an argument, cannot be measured. "
            f"Instead {PATTERN}. (flax: {err})"
        ) from err
