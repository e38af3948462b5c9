"""Errors that every checkpoint reader shares (readers.py dispatches to the format modules)."""


class CorruptCheckpointError(ValueError):
    """The file is truncated, damaged or not a checkpoint at all (a download to redo)."""
