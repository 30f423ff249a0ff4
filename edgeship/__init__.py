"""edgeship: compress, export, benchmark and ship transformers to edge devices."""

__version__ = "0.1.0"
