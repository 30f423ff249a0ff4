"""The conformance matrix: which model families survive each export and quantization cell."""
