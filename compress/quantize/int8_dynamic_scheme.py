"""int8-dynamic: int8 weights, activations quantized on the fly per inference (no calibration)."""

from edgeship.compress.quantize.spec import Scheme, register_scheme

INT8_DYNAMIC = register_scheme(
    Scheme(
        id="int8-dynamic",
        summary="int8 weights, activation ranges computed at run time",
        options=("per_channel", "activation_scales"),
        tolerance=0.5,
    )
)
