"""fp16: half-precision weights (and activations where the runtime computes in fp16)."""

from edgeship.compress.quantize.spec import Scheme, register_scheme

FP16 = register_scheme(Scheme(id="fp16", summary="half-precision weights", options=(), tolerance=0.05))
