"""The error of a checkpoint file that is damaged or not what its name says (a download to redo)."""


class CorruptCheckpointError(ValueError):
    """The file is truncated, damaged or not a checkpoint at all (a download to redo)."""


def corrupt_checkpoint(path, reason):
    """CorruptCheckpointError for `path`; `reason` is the exception or a phrase saying why."""
    if isinstance(reason, BaseException):
        reason = f"{type(reason).__name__}: {reason}"
    return CorruptCheckpointError(
        f"Could not read checkpoint {path!r} ({reason}). The file is truncated, corrupt or not "
        "a checkpoint; download it again."
    )
