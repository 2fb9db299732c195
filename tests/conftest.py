"""Shared test settings: small hypothesis budgets so the suite stays fast on 2 cores."""
import os

from hypothesis import HealthCheck, settings

settings.register_profile("symjax", max_examples=25, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "symjax"))

# Equivariance is tested to float32 rounding; GPUs default to TF32 convolutions
# (about 1e-4 relative error), so tests ask XLA for full float32 precision.
import jax  # noqa: E402

jax.config.update("jax_default_matmul_precision", "highest")
