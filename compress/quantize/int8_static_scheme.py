"""int8-static: int8 weights and activations, activation ranges calibrated on real samples."""

from edgeship.compress.quantize.spec import Scheme, register_scheme

INT8_STATIC = register_scheme(
    Scheme(
        id="int8-static",
        summary="int8 weights and activations, ranges calibrated on real samples",
        options=("calibration_samples", "calibration_method", "per_channel", "target_cpu", "target_runtime"),
        tolerance=0.5,
        calibrates=True,
    )
)
