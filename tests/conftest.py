"""Shared test settings: small hypothesis budgets so the suite stays fast on 2 cores."""
import os

from hypothesis import HealthCheck, settings

settings.register_profile("symjax", max_examples=25, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "symjax"))
