"""Task descriptors: what a task's model takes and returns, how it is checked, scored and served."""
