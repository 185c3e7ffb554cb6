"""yiwang (一网): an open-source platform for a city's digital government."""

__version__ = "0.1.0"
