"""Examples that fail to load: counted, named, reported, and a run stopped when there are too many.

tf.data's own `ignore_errors` drops a failing example with at most a C++ log line (hidden by
TF_CPP_MIN_LOG_LEVEL) and, when every example fails, leaves a repeated stream that never
yields a batch. Here each example is loaded inside its own one-element dataset, so that a
failure becomes a marked placeholder instead of a gap (`guarded_map`); the marker calls back
into Python, where `LoadFailures` counts it per epoch (or per evaluation pass), logs the first
few with the reason, and raises `UnreadableDataError` as soon as an epoch holds more failures
than `max_fraction` of its examples allows: a run over unreadable data stops within its first
epoch instead of hanging.

The marker reaches Python through a gate (`LoadFailures.close`). An iterator is destroyed
with the GIL held and waits for its threads; a thread waiting for the GIL to report a
failure then never returns, and the process hangs (typically at exit, after a stop). A closed
gate keeps the pipeline out of Python, and closing waits until the calls already on their way
have returned: a run's pipelines are closed at the end of training, of each evaluation pass,
on a stop, and at interpreter exit.
"""

import atexit
import collections
import hashlib
import logging
import math
import threading
import time
import weakref

import numpy as np
import tensorflow as tf

DEFAULT_MAX_FRACTION = 0.01
_NAMED = 5
_EVALUATION = "evaluation"
# Time a closed gate leaves the pipeline's threads to return from calls already into Python.
_DRAIN_SECONDS = 0.2
_LIVE = weakref.WeakSet()

logger = logging.getLogger(__name__)


class UnreadableDataError(ValueError):
    """Too many examples of a data source could not be loaded."""


def check_max_fraction(max_fraction):
    if isinstance(max_fraction, bool) or not isinstance(max_fraction, (int, float)):
        raise TypeError(f"max_bad_fraction must be a number in [0, 1]. Received: {max_fraction!r}")
    if not 0 <= max_fraction <= 1:
        raise ValueError(
            "max_bad_fraction is the fraction of an epoch's examples that may fail to load "
            f"before the run stops; it must lie in [0, 1]. Received: {max_fraction!r}"
        )
    return float(max_fraction)


class LoadFailures:
    """The failures of one data source, per training epoch, or over evaluation.

    Args:
        source: the RecordSource (it names and explains a failed record).
        max_fraction: the run stops once more than this fraction of an epoch's examples
            (or of the evaluation data) failed. 0: the first failure stops it.
        examples_per_epoch: examples per epoch on this host; None when unknown (then only
            the end of an evaluation pass can check the fraction).
        description: how messages name the data (default: the source's description).
    """

    def __init__(
        self, source, max_fraction=DEFAULT_MAX_FRACTION, examples_per_epoch=None, description=None
    ):
        self.source = source
        self.max_fraction = check_max_fraction(max_fraction)
        self.examples_per_epoch = examples_per_epoch or None
        self.description = description or source.description()
        self._lock = threading.Lock()
        self._counts = collections.Counter()
        self._named = collections.defaultdict(list)
        self._seen = set()
        self.error = None
        with tf.init_scope():
            self._gate = tf.Variable(True, trainable=False, name="load_failures_gate")
        _LIVE.add(self)

    @property
    def is_open(self):
        """Whether the pipelines report failures (see `close`)."""
        return bool(self._gate.numpy())

    def open(self):
        """Let the pipelines report failures again (a new training or evaluation pass)."""
        self._gate.assign(True)

    def close(self, drain=True):
        """Keep the pipelines out of Python from now on (their failures go unrecorded); with
        `drain`, release the GIL long enough for calls already on their way to return."""
        self._gate.assign(False)
        if drain:
            time.sleep(_DRAIN_SECONDS)

    def call_python(self, function, inputs):
        """`tf.py_function(function, inputs)` (a bool) while the gate is open, else False."""

        def call():
            result = tf.py_function(function, inputs, Tout=tf.bool)
            result.set_shape([])
            return result

        return tf.cond(self._gate.read_value(), call, lambda: tf.constant(False))

    @property
    def allowed(self):
        """Failures an epoch may hold without stopping the run (None: unknown)."""
        if self.examples_per_epoch is None:
            return None
        return math.floor(self.max_fraction * self.examples_per_epoch)

    def count(self, epoch=None):
        """Failures of a training epoch, or (None) the evaluation records that failed."""
        return self._counts[_key(epoch)]

    def named(self, epoch=None):
        """[(name, reason)] of the first failures of an epoch (None: of evaluation)."""
        return list(self._named[_key(epoch)])

    def record(self, record, epoch=None):
        """Called (from the input pipeline's threads) for every record that failed. An
        evaluation record counts once however many passes (validation epochs) it fails in."""
        key = _key(epoch)
        with self._lock:
            if epoch is None:
                identity = _identity(record)
                if identity in self._seen:
                    return
                self._seen.add(identity)
            self._counts[key] += 1
            count = self._counts[key]
            explain = len(self._named[key]) < _NAMED
        if explain:
            name, reason = self.source.explain_failure(record)
            with self._lock:
                self._named[key].append((name, reason))
            logger.warning(
                "Could not load %s from %s (%s); %s.",
                name,
                self.description,
                reason.rstrip("."),
                "replaced by another example of its batch" if epoch is not None else "skipped",
            )
        allowed = self.allowed
        if allowed is not None and count > allowed:
            self._fail(key, count)

    def check_pass(self, loaded):
        """At the end of an evaluation pass that loaded `loaded` examples: raise if the failed
        fraction is above max_fraction or nothing loaded at all."""
        failed = self.count()
        if failed and (not loaded or failed > self.max_fraction * (failed + loaded)):
            self._fail(_EVALUATION, failed, total=failed + loaded)

    def empty_batch(self):
        """Called when no example of a training batch loaded: there is nothing to train on."""
        epoch = max((key for key in self._counts if key != _EVALUATION), default=0)
        self._fail(epoch, self._counts[epoch], whole_batch=True)

    def summary(self, epoch=None):
        """One line on the failures of an epoch (or pass), or None if there were none."""
        count = self.count(epoch)
        if not count:
            return None
        examples = "; ".join(f"{name} ({reason.rstrip('.')})" for name, reason in self.named(epoch))
        more = f" and {count - len(self.named(epoch))} more" if count > _NAMED else ""
        return f"{count} example(s) of {self.description} could not be loaded: {examples}{more}"

    def _fail(self, key, count, total=None, whole_batch=False):
        if self.error is not None:  # other pipeline threads keep failing until it stops
            raise self.error
        self.close(drain=False)  # called from a pipeline thread: the caller drains
        with self._lock:
            named = list(self._named[key])
        if whole_batch:
            why = f"no example of a whole training batch of {self.description} could be loaded"
        elif total is not None:
            why = (
                f"{count} of the {total} examples of an evaluation pass over "
                f"{self.description} could not be loaded, more than "
                f"max_bad_fraction={self.max_fraction:g} allows"
            )
        elif key == _EVALUATION:
            why = (
                f"{count} of the {self.examples_per_epoch} examples of {self.description} "
                f"could not be loaded, more than max_bad_fraction={self.max_fraction:g} "
                f"allows ({self.allowed})"
            )
        else:
            why = (
                f"{count} of the {self.examples_per_epoch} examples of an epoch of "
                f"{self.description} could not be loaded, more than "
                f"max_bad_fraction={self.max_fraction:g} allows ({self.allowed} per epoch)"
            )
        first = f" First: {named[0][0]}: {named[0][1].rstrip('.')}." if named else ""
        self.error = UnreadableDataError(
            f"Stopped: {why}.{first} {self.source.failure_hint()} "
            f"Received: {count} failed example(s)."
        )
        raise self.error


def _key(epoch):
    return _EVALUATION if epoch is None else int(epoch)


def _identity(record):
    digest = hashlib.sha1()
    for tensor in tf.nest.flatten(record):
        value = tensor.numpy() if hasattr(tensor, "numpy") else tensor
        digest.update(value if isinstance(value, bytes) else np.asarray(value).tobytes())
        digest.update(b"\0")
    return digest.hexdigest()


def _placeholder(spec):
    """Zeros of a component's static shape (0 along unknown axes)."""
    shape = [0 if d is None else d for d in spec.shape.as_list()]
    return tf.zeros(shape, spec.dtype)


def guarded_map(elements, load, failures, split, num_parallel_calls, deterministic):
    """`elements.map(load)` where an element whose `load` raises becomes a placeholder.

    Each output is `(*load(element), ok)`; a failed element has zeros for every component
    and ok=False, after `failures.record` has seen it (which may raise to stop the run).
    `split(element)` gives (its record, its epoch or None for the current evaluation pass).
    """
    loaded_spec = elements.map(load).element_spec
    structure = elements.element_spec

    def report(*flat):
        record, epoch = split(tf.nest.pack_sequence_as(structure, list(flat)))
        failures.record(record, None if epoch is None else int(np.asarray(epoch)))
        return False

    def placeholder(*element):
        ok = failures.call_python(report, tf.nest.flatten(element))
        return (*tf.nest.map_structure(_placeholder, loaded_spec), ok)

    # A named function, not a lambda: AutoGraph then converts what `load` calls (keras-cv's
    # RandAugment layers branch on tensors in Python); from the lambda it converted nothing.
    def loaded_ok(*element):
        return (*load(*element), tf.constant(True))

    def one(*element):
        single = tf.data.Dataset.from_tensors(element)
        loaded = single.map(loaded_ok).ignore_errors()
        return loaded.concatenate(single.map(placeholder)).take(1)

    return elements.interleave(
        one,
        cycle_length=tf.data.AUTOTUNE,
        block_length=1,
        num_parallel_calls=num_parallel_calls,
        deterministic=deterministic,
    )


def replace_failed(batch, ok, failures):
    """Each failed example of a batch takes the place of a loaded one of the same batch (in
    turn), so that every step sees a full batch and resumes at the same data position."""
    size = tf.shape(ok)[0]
    valid = tf.cast(tf.reshape(tf.where(ok), [-1]), tf.int32)

    def none_loaded():
        failures.empty_batch()
        return False

    checked = tf.cond(
        tf.size(valid) > 0,
        lambda: tf.constant(True),
        lambda: failures.call_python(none_loaded, []),
    )
    with tf.control_dependencies([checked]):
        rank = tf.cumsum(tf.cast(tf.logical_not(ok), tf.int32), exclusive=True)
        take = tf.where(ok, tf.range(size), tf.gather(valid, rank % tf.maximum(tf.size(valid), 1)))
    return tf.nest.map_structure(lambda x: tf.gather(x, take), batch)


@atexit.register
def _close_at_exit():
    """Interpreter exit destroys the iterators still alive: keep their threads out of Python."""
    live = list(_LIVE)
    for failures in live:
        failures.close(drain=False)
    if live:
        time.sleep(_DRAIN_SECONDS)
