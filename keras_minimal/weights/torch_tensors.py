"""numpy stand-ins for the torch names that torch.save's pickles call, without torch.

A pickled tensor is a call `torch._utils._rebuild_tensor_v2(storage, offset, size, stride,
...)` whose storage is a persistent id that the file format resolves (see torch_checkpoint).
The legacy format stores the storages' bytes after the pickle, so a rebuilt tensor is first a
TensorView; `materialize` turns every view into its numpy array once the bytes are read.
The stand-ins only record their arguments: what a file names is never imported or called.
"""

import argparse
import pickle

import ml_dtypes
import numpy as np

from keras_minimal.weights.restricted_pickle import CONTAINER_GLOBALS

# torch's storage classes, as torch.save names them, and the element dtype each holds.
# A quantized storage holds the integers of its tensor (which is refused when rebuilt).
_STORAGE_DTYPES = {
    "DoubleStorage": np.float64,
    "FloatStorage": np.float32,
    "HalfStorage": np.float16,
    "BFloat16Storage": ml_dtypes.bfloat16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
    "ComplexFloatStorage": np.complex64,
    "ComplexDoubleStorage": np.complex128,
    "QInt8Storage": np.int8,
    "QUInt8Storage": np.uint8,
    "QInt32Storage": np.int32,
    "QUInt4x2Storage": np.uint8,
    "QUInt2x4Storage": np.uint8,
}
# torch dtypes (pickled by name, e.g. GLOBAL 'torch uint16'): _rebuild_tensor_v3 names the
# dtype of tensors that have no storage class of their own, over an untyped (byte) storage.
_TENSOR_DTYPES = {
    "float64": np.float64,
    "float32": np.float32,
    "float16": np.float16,
    "bfloat16": ml_dtypes.bfloat16,
    "int64": np.int64,
    "int32": np.int32,
    "int16": np.int16,
    "int8": np.int8,
    "uint64": np.uint64,
    "uint32": np.uint32,
    "uint16": np.uint16,
    "uint8": np.uint8,
    "bool": np.bool_,
    "complex64": np.complex64,
    "complex128": np.complex128,
    **{
        name: getattr(ml_dtypes, name)
        for name in (
            "float8_e4m3fn",
            "float8_e5m2",
            "float8_e4m3fnuz",
            "float8_e5m2fnuz",
            "float8_e8m0fnu",
        )
        if hasattr(ml_dtypes, name)
    },
}
# Tensors that are not dense arrays of numbers, by the torch._utils function rebuilding them.
_UNSUPPORTED_REBUILDS = {
    "_rebuild_qtensor": "a quantized tensor (dequantize it: tensor.dequantize())",
    "_rebuild_sparse_tensor": "a sparse tensor (make it dense: tensor.to_dense())",
    "_rebuild_nested_tensor": "a nested tensor",
    "_rebuild_meta_tensor_no_storage": "a tensor on the meta device, which has no values",
    "_rebuild_wrapper_subclass": "a tensor subclass",
    "_rebuild_device_tensor_from_numpy": "a tensor of an accelerator device (XLA)",
    "_rebuild_device_tensor_from_cpu_tensor": "a tensor of an accelerator device",
}
_QUANTIZATION_SCHEMES = (
    "per_tensor_affine",
    "per_tensor_symmetric",
    "per_channel_affine",
    "per_channel_symmetric",
    "per_channel_affine_float_qparams",
)


class UnsupportedTensorError(ValueError):
    """The checkpoint holds a kind of tensor that is not a dense array (quantized, sparse...)."""


class _Inert:
    """A torch name that a pickle refers to. Its state cannot be set: a pickle's BUILD would
    otherwise change objects that outlive the file (the stand-ins, argparse's class)."""

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return self.name

    def __setstate__(self, state):
        raise pickle.UnpicklingError(f"the pickle sets the state of {self.name}")


class _StandIn(_Inert):
    """A torch function, replaced by `function` of the pickle's arguments."""

    def __init__(self, name, function):
        super().__init__(name)
        self._function = function

    def __call__(self, *args):
        return self._function(*args)


class _Frozen(type):
    def __setattr__(cls, name, value):
        raise pickle.UnpicklingError(f"the pickle sets {name} on the class {cls.__name__}")


class _Namespace(argparse.Namespace, metaclass=_Frozen):
    """argparse.Namespace as unpickled: a pickle sets its instances' attributes, never the
    class's (protocol 2 rebuilds it with NEWOBJ, which needs a class)."""


class TorchDType(_Inert):
    """A torch dtype (pickled by name, e.g. torch.uint16) and its numpy dtype."""

    def __init__(self, name, dtype):
        super().__init__(f"torch.{name}")
        self.dtype = np.dtype(dtype)


class StorageType(TorchDType):
    """torch.FloatStorage, torch.storage.UntypedStorage ...: the dtype of a storage's elements."""


class Storage(_Inert):
    """One storage of the file: `numel` elements of `dtype`; `raw` (its bytes, a uint8 array)
    is set by the file format's reader once the pickle is read."""

    def __init__(self, key, dtype, numel):
        super().__init__(f"storage {key!r}")
        self.key, self.dtype, self.numel = key, dtype, numel
        self.raw = None

    @property
    def nbytes(self):
        return self.numel * self.dtype.itemsize


class TensorView(_Inert):
    """A tensor as torch records it: `size` elements of `dtype`, `stride` apart, from element
    `offset` of `storage` (in units of `dtype`)."""

    def __init__(self, storage, offset, size, stride, dtype=None, metadata=None):
        super().__init__("a tensor")
        if not isinstance(storage, Storage):
            raise pickle.UnpicklingError(f"a tensor's storage is {storage!r:.80}")
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride
        self.dtype = storage.dtype if dtype is None else dtype
        self.metadata = {} if metadata is None else metadata


def _rebuild_tensor(storage, storage_offset, size, stride):
    return TensorView(storage, storage_offset, size, stride)


def _rebuild_tensor_v2(
    storage, storage_offset, size, stride, requires_grad, backward_hooks, metadata=None
):
    return TensorView(storage, storage_offset, size, stride, metadata=metadata)


def _rebuild_tensor_v3(
    storage, storage_offset, size, stride, requires_grad, backward_hooks, dtype, metadata=None
):
    if not isinstance(dtype, TorchDType):
        raise pickle.UnpicklingError(f"a tensor's dtype is {dtype!r:.80}")
    return TensorView(storage, storage_offset, size, stride, dtype.dtype, metadata)


def _rebuild_parameter(data, requires_grad, backward_hooks):
    return data


def _rebuild_parameter_with_state(data, requires_grad, backward_hooks, state):
    return data  # the state is Python attributes set on the Parameter, not weights


_REBUILDS = {
    "_rebuild_tensor": _rebuild_tensor,
    "_rebuild_tensor_v2": _rebuild_tensor_v2,
    "_rebuild_tensor_v3": _rebuild_tensor_v3,
    "_rebuild_parameter": _rebuild_parameter,
    "_rebuild_parameter_with_state": _rebuild_parameter_with_state,
}
_REBUILD_STAND_INS = {
    name: _StandIn(f"torch._utils.{name}", function) for name, function in _REBUILDS.items()
}
_TENSOR_TYPES = {
    ("torch", "Tensor"): _Inert("torch.Tensor"),
    ("torch.nn.parameter", "Parameter"): _Inert("torch.nn.parameter.Parameter"),
}


def _rebuild_from_type_v2(func, new_type, args, state):
    """A Tensor with Python attributes (`state`, not weights): the tensor alone."""
    known = func in _REBUILD_STAND_INS.values() and new_type in _TENSOR_TYPES.values()
    if not known or not isinstance(args, tuple):
        raise pickle.UnpicklingError(f"a tensor of type {new_type!r:.80} rebuilt by {func!r:.80}")
    return func(*args)


def _unsupported(name, kind):
    def refuse(*args):
        raise UnsupportedTensorError(
            f"holds {kind}, rebuilt by torch._utils.{name}; only dense tensors are read"
        )

    return _StandIn(f"torch._utils.{name}", refuse)


# What the pickles of torch.save may name, and nothing else: the tensor rebuilds, storage
# classes and dtypes, plain containers (a state dict is an OrderedDict) and the argparse
# Namespace that training scripts (the official VanillaNet main.py, timm) save beside it.
TORCH_GLOBALS = {
    **CONTAINER_GLOBALS,
    ("argparse", "Namespace"): _Namespace,
    ("torch", "Size"): tuple,
    **{("torch._utils", name): stand_in for name, stand_in in _REBUILD_STAND_INS.items()},
    ("torch._tensor", "_rebuild_from_type_v2"): _StandIn(
        "torch._tensor._rebuild_from_type_v2", _rebuild_from_type_v2
    ),
    **_TENSOR_TYPES,
    **{("torch", name): StorageType(name, dtype) for name, dtype in _STORAGE_DTYPES.items()},
    **{
        (module, "UntypedStorage"): StorageType("UntypedStorage", np.uint8)
        for module in ("torch", "torch.storage")
    },
    **{("torch", name): TorchDType(name, dtype) for name, dtype in _TENSOR_DTYPES.items()},
    **{
        ("torch._utils", name): _unsupported(name, kind)
        for name, kind in _UNSUPPORTED_REBUILDS.items()
    },
    **{("torch", name): _Inert(f"torch.{name}") for name in _QUANTIZATION_SCHEMES},
}


def storage_from_id(storages, pid):
    """The Storage a persistent id ('storage', storage type, key, location, numel[, view])
    names; one per key in `storages`, so that tensors viewing one storage share it.

    The location ('cpu', 'cuda:0') does not matter: the bytes are in the file.
    """
    if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] == "storage"):
        raise pickle.UnpicklingError(f"unknown persistent id {pid!r:.80}")
    storage_type, key, _, numel = pid[1:5]
    if not isinstance(storage_type, StorageType) or not _is_count(numel):
        raise pickle.UnpicklingError(f"malformed storage id {pid!r:.80}")
    if len(pid) == 6 and pid[5] is not None:
        raise pickle.UnpicklingError(
            "a storage view, which torch.save no longer writes and this reader does not read"
        )
    key = str(key)
    storage = storages.get(key)
    if storage is None:
        storage = storages[key] = Storage(key, storage_type.dtype, numel)
    elif storage.dtype != storage_type.dtype or storage.numel != numel:
        raise pickle.UnpicklingError(f"storage {key!r} is described in two ways")
    return storage


def _is_count(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _array(view, big_endian):
    """The numpy array of a TensorView, a copy of its elements with torch's strides."""
    storage, dtype = view.storage, np.dtype(view.dtype)
    size, stride, offset = view.size, view.stride, view.offset
    if not (
        isinstance(size, tuple)
        and isinstance(stride, tuple)
        and len(size) == len(stride)
        and all(_is_count(n) for n in (offset, *size, *stride))
    ):
        raise pickle.UnpicklingError(
            f"malformed tensor: size {size!r:.60}, stride {stride!r:.60}, offset {offset!r:.20}"
        )
    if storage.raw is None:
        raise pickle.UnpicklingError(f"storage {storage.key!r} has no data in the file")
    elements = storage.raw[: storage.raw.size // dtype.itemsize * dtype.itemsize].view(dtype)
    if 0 in size:
        array = np.zeros(size, dtype)
    else:
        last = offset + sum((n - 1) * s for n, s in zip(size, stride, strict=True))
        if last >= elements.size:
            raise pickle.UnpicklingError(
                f"a tensor of size {size} reaches element {last} of storage {storage.key!r}, "
                f"which has {elements.size}"
            )
        strided = np.lib.stride_tricks.as_strided(
            elements[offset:],
            shape=size,
            strides=tuple(s * dtype.itemsize for s in stride),
            writeable=False,
        )
        array = np.array(strided, order="C")
        if big_endian:
            array.byteswap(inplace=True)
    return _apply_metadata(array, view.metadata)


def _apply_metadata(array, metadata):
    """torch's lazy negation / conjugation bits (a view saved as such)."""
    if not isinstance(metadata, dict) or set(metadata) - {"neg", "conj"}:
        raise pickle.UnpicklingError(f"unknown tensor metadata {metadata!r:.80}")
    if metadata.get("neg"):
        array = np.negative(array)
    if metadata.get("conj"):
        array = np.conj(array)
    return array


def materialize(obj, big_endian=False):
    """`obj` with every TensorView replaced by its array (storages' `raw` set beforehand).

    Dicts and lists are updated in place (an OrderedDict keeps its order and attributes);
    tuples and Namespaces are rebuilt. A tensor pickled once gives one array wherever it occurs.
    """
    done = {}  # id → (original, result): the original is kept so that its id stays its own

    def walk(item):
        if id(item) in done:
            return done[id(item)][1]
        if isinstance(item, TensorView):
            done[id(item)] = item, _array(item, big_endian)
        elif isinstance(item, dict):
            done[id(item)] = item, item
            for name, value in item.items():
                item[name] = walk(value)
        elif isinstance(item, list):
            done[id(item)] = item, item
            item[:] = [walk(value) for value in item]
        elif isinstance(item, argparse.Namespace):  # a _Namespace: given as an argparse one
            namespace = argparse.Namespace()
            done[id(item)] = item, namespace
            vars(namespace).update({name: walk(value) for name, value in vars(item).items()})
        elif isinstance(item, tuple):
            done[id(item)] = item, tuple(walk(value) for value in item)
        else:
            return item
        return done[id(item)][1]

    return walk(obj)
