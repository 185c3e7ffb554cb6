"""yiwang (一网): an open-source platform for a city's digital government."""

import os

# Arrow allocates through glibc malloc in every yiwang process, not its bundled mimalloc, which
# hands freed pages back to the kernel within milliseconds: each batch of a load then faulted
# its memory in again and the kernel zeroed every page. Parquet's encoders take Arrow's default
# pool whatever pool the writer is given, so only this setting reaches them; it must be made
# before pyarrow first allocates. An operator's own ARROW_DEFAULT_MEMORY_POOL wins.
# Measured: governance/engine/README.md ("The ceiling").
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")

__version__ = "0.1.0"
