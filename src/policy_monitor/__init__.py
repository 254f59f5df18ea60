"""policy-monitor: keeps published "what does each AI vendor do with my data" tables honest."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("policy-monitor")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"
