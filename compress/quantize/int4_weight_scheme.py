"""int4-weight: block-wise 4-bit weights, float activations (weight-only)."""

from edgeship.compress.quantize.spec import Scheme, register_scheme

INT4_WEIGHT = register_scheme(
    Scheme(
        id="int4-weight",
        summary="block-wise 4-bit weights, float activations",
        options=("block_size", "symmetric", "int4_algorithm", "target_runtime"),
        tolerance=1.0,
    )
)
