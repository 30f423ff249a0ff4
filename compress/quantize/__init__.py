"""Quantization: one spec, applied per artifact format by a registered backend."""
