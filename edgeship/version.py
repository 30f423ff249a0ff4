"""The edgeship version (ground layer: the manifest and bundle record it)."""

__version__ = "0.1.0"
