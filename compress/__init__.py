"""Compression: data loading, fine-tuning, distillation and quantization (imports as `edgeship.compress`)."""
