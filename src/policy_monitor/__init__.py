"""policy-monitor: keeps published "what does each AI vendor do with my data" tables honest."""

__version__ = "0.1.0"  # the one place the version is written: pyproject.toml reads it from here
