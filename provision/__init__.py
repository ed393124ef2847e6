"""provision: stand up, check and migrate a small business's own mail server."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("provision")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
