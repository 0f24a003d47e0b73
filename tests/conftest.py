"""Test-wide settings: hypothesis without its per-example deadline (a timing limit, which a
loaded machine fails by chance; speed is measured in benchmarks, not asserted in tests)."""

from hypothesis import settings

settings.register_profile("bytesim", deadline=None)
settings.load_profile("bytesim")
