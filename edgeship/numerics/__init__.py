"""Layer-by-layer numerics (`edgeship debug`): a variant's layers lined up against PyTorch or another variant."""
