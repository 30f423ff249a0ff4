"""Recipes: one YAML file runs teacher -> student -> quantized artifacts -> benchmarks -> report and app kit."""
