"""What a refused pickle global means to the user: code the file would run, or an object
that is not weights. The one place where an unpickler's refusal becomes our error; a
reader passes the refused global's dotted name (e.g. "posix.system")."""

# Modules whose functions run commands, code or I/O when a pickle calls them; a
# checkpoint never needs them.
CODE_RUNNING_MODULES = frozenset(
    {
        "os",
        "posix",
        "nt",
        "sys",
        "subprocess",
        "pty",
        "runpy",
        "importlib",
        "ctypes",
        "shutil",
        "socket",
        "code",
        "pickle",
        "_pickle",
        "marshal",
        # dill's helpers build functions and code objects, import modules or eval strings;
        # DeepMind's Haiku files need only its _create_array (weights/haiku_pickle.py).
        "dill",
    }
)
CODE_RUNNING_BUILTINS = frozenset(
    {"eval", "exec", "compile", "__import__", "getattr", "setattr", "delattr", "open", "breakpoint"}
)


# Pickle protocol 2 (torch.save's) writes these modules under their Python 2 names.
_PYTHON3_NAMES = {"__builtin__": "builtins", "commands": "subprocess"}


class RefusedPickleError(ValueError):
    """The file's pickle names an object that is not unpickled, for safety; nothing ran.

    Not a CorruptCheckpointError: the file is intact, and downloading it again changes nothing.
    """


class PickledCodeError(RefusedPickleError):
    """The file's pickle would run code when loaded; it was refused before anything ran."""


def _qualified(name):
    """The Python 3 dotted name: 'exec' (PyTorch drops 'builtins.') → 'builtins.exec',
    'commands.call' → 'subprocess.call'."""
    module, _, attribute = name.rpartition(".")
    module = _PYTHON3_NAMES.get(module or "builtins", module or "builtins")
    return f"{module}.{attribute}"


def runs_code(name):
    """Whether calling the global `name` ("posix.system") runs commands or code."""
    module, _, attribute = _qualified(name).rpartition(".")
    if module == "builtins":
        return attribute in CODE_RUNNING_BUILTINS
    return module.split(".")[0] in CODE_RUNNING_MODULES


def refused_global(path, name):
    """The error for a pickle in `path` that refers to the global `name`, which was not loaded."""
    name = _qualified(name)
    if runs_code(name):
        return PickledCodeError(
            f"Refused to load {path!r}: unpickling it would call {name}, which runs commands "
            "or code instead of reading weights. Nothing in the file was executed. A "
            "checkpoint holds only tensors and plain containers: treat this file as unsafe, "
            "do not use it, and get the weights from their publisher (as .safetensors where "
            "offered)."
        )
    return RefusedPickleError(
        f"{path!r} holds a {name} object next to its tensors (training-script state, for "
        "example). Only tensors and plain containers are unpickled, for safety, and nothing "
        "in the file was executed: re-save its state dict alone where the file was made "
        "(torch.save(model.state_dict(), 'weights.pth')), or get the weights as .safetensors."
    )
