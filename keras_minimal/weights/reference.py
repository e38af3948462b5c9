"""load_reference: map a reference checkpoint onto a model, all or nothing."""

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from keras_minimal import model_families
from keras_minimal.weights.conversions import IDENTITY, Conversion
from keras_minimal.weights.nonfinite import check_finite
from keras_minimal.weights.readers import read_checkpoint

# Buffers that PyTorch keeps in state dicts but that carry no weights.
_IGNORED_SUFFIXES = ("num_batches_tracked",)
_LISTED = 8  # names listed per category in error messages


@dataclass(frozen=True)
class Target:
    """Where one reference tensor goes."""

    variable: object  # a keras.Variable
    conversion: Conversion


@dataclass
class ReferenceLayout:
    """A family's map from reference tensor names onto one model's variables.

    Attributes:
        description: what the model is, for error messages.
        targets: reference name → Target.
        skippable: reference names that a checkpoint may carry without the model
            using them (e.g. the classifier when include_top=False).
        diagnose: optional; given the checkpoint's names, returns a complete error
            message when the checkpoint is recognisably of another form (e.g. a
            deploy checkpoint for a training graph), else None.
        hint: optional; given the problem report and the checkpoint, returns an
            extra sentence (e.g. which variant the checkpoint looks like).
        choose: optional; for families whose checkpoints come in several name
            layouts (ConvNeXt: official and timm), given the checkpoint's names,
            returns the layout to match them against.
        translate: optional; renames (and re-lays out) a checkpoint given in another
            naming onto the targets' names, e.g. DeepMind's Haiku names onto timm's.
    """

    description: str
    targets: dict
    skippable: Callable[[str], bool] = lambda name: False
    diagnose: Callable[[set], str | None] = lambda names: None
    hint: Callable[[dict, dict], str | None] = lambda problems, checkpoint: None
    choose: Callable[[set], "ReferenceLayout"] | None = None
    translate: Callable[[dict], dict] = lambda checkpoint: checkpoint


def weight_and_bias_targets(prefix, layer, conversion):
    """`prefix.weight` / `prefix.bias` of a conv or linear layer (bias only if it has one)."""
    targets = {f"{prefix}.weight": Target(layer.kernel, conversion)}
    if getattr(layer, "bias", None) is not None:
        targets[f"{prefix}.bias"] = Target(layer.bias, IDENTITY)
    return targets


def batch_norm_targets(prefix, layer):
    """PyTorch BatchNorm2d/1d names → Keras BatchNormalization variables."""
    return {
        f"{prefix}.weight": Target(layer.gamma, IDENTITY),
        f"{prefix}.bias": Target(layer.beta, IDENTITY),
        f"{prefix}.running_mean": Target(layer.moving_mean, IDENTITY),
        f"{prefix}.running_var": Target(layer.moving_variance, IDENTITY),
    }


def _layout_for(model):
    return model_families.require_family(model, "load_reference").reference_layout(model)


def _axes_order(got, want):
    """The axes that turn a `got`-shaped array into a `want`-shaped one when the two shapes
    hold the same sizes in another order, else None."""
    if got == want or sorted(got) != sorted(want):
        return None
    for axes in itertools.permutations(range(len(got))):
        if tuple(got[axis] for axis in axes) == tuple(want):
            return axes
    return None


def _listing(names):
    names = sorted(names)
    shown = ", ".join(names[:_LISTED])
    return shown + (f", … ({len(names) - _LISTED} more)" if len(names) > _LISTED else "")


def _resolve(layout, checkpoint):
    """The checkpoint in the layout's names, its meaningful names, and the layout to use."""
    checkpoint = layout.translate(checkpoint)
    names = {n for n in checkpoint if not n.endswith(_IGNORED_SUFFIXES)}
    if layout.choose is not None:
        layout = layout.choose(names)
    return checkpoint, names, layout


def describes_the_training_graph(model, checkpoint):
    """Whether `checkpoint` (a mapping) holds the training graph of `model`, a deploy graph.

    A deploy graph's layout diagnoses exactly that: the other form is the training one.
    """
    if not model.builder_config.get("deploy"):
        return False
    _, names, layout = _resolve(_layout_for(model), checkpoint)
    return layout.diagnose(names) is not None


def _other_class_count(mismatched, classes):
    """The checkpoint's class count when every shape mismatch is the classifier's width."""
    counts = set()
    for got, want in mismatched.values():
        if len(got) != len(want):
            return None
        differing = [(g, w) for g, w in zip(got, want, strict=True) if g != w]
        if any(w != classes for _, w in differing):
            return None
        counts.update(g for g, _ in differing)
    return counts.pop() if len(counts) == 1 else None


def plan_assignments(layout, checkpoint, classes=None, allow_nonfinite=False):
    """[(variable, keras-layout array)] for every target, or ValueError listing every problem.

    `classes` (the model's, with its classifier) lets the error say when the checkpoint
    only differs in its number of classes. The tensors to load must be finite unless
    `allow_nonfinite`.
    """
    checkpoint, names, layout = _resolve(layout, checkpoint)
    diagnosis = layout.diagnose(names)
    if diagnosis:
        raise ValueError(diagnosis + " Nothing was loaded.")

    missing = set(layout.targets) - names
    unexpected = {n for n in names - set(layout.targets) if not layout.skippable(n)}
    mismatched = {}
    assignments = []
    for name, target in layout.targets.items():
        if name in missing:
            continue
        array = checkpoint[name]
        expected = tuple(target.conversion.reference_shape(tuple(target.variable.shape)))
        if tuple(array.shape) != expected:
            mismatched[name] = (tuple(array.shape), expected)
            continue
        value = target.conversion.to_keras(array).astype(target.variable.dtype, copy=False)
        assignments.append((target.variable, np.asarray(value, order="C")))  # keeps 0-d

    if missing or unexpected or mismatched:
        problems = {"missing": missing, "unexpected": unexpected, "mismatched": mismatched}
        lines = [f"The checkpoint does not match {layout.description}."]
        if missing:
            lines.append(f"Missing from the checkpoint ({len(missing)}): {_listing(missing)}.")
        if unexpected:
            lines.append(
                f"Unexpected in the checkpoint ({len(unexpected)}): {_listing(unexpected)}."
            )
        permuted = {n: _axes_order(got, want) for n, (got, want) in mismatched.items()}
        permuted = {n: axes for n, axes in permuted.items() if axes}
        if mismatched:
            shown = [
                f"{n}: checkpoint {got}, model needs {want}"
                + (
                    f" (the same sizes in another axis order: np.transpose(tensor, {permuted[n]}) "
                    "gives the model's)"
                    if n in permuted
                    else ""
                )
                for n, (got, want) in sorted(mismatched.items())[:_LISTED]
            ]
            more = len(mismatched) - len(shown)
            lines.append(
                f"Shape mismatches ({len(mismatched)}): "
                + "; ".join(shown)
                + (f"; … ({more} more)" if more else "")
                + "."
            )
        other_classes = None
        if classes and mismatched and not missing and not unexpected:
            other_classes = _other_class_count(mismatched, classes)
        if mismatched and len(permuted) == len(mismatched):
            lines.append(
                "Every mismatched tensor holds the right sizes with its axes in another order: "
                "the checkpoint was saved with transposed kernels (another framework's layout, "
                "or weight.T). Save it with the reference code's own layout (PyTorch: conv "
                "(out, in, kh, kw), linear (out, in)) and load that."
            )
        elif other_classes:
            lines.append(
                f"The checkpoint's classifier has {other_classes} classes, this model's "
                f"{classes}: build it with classes={other_classes}, or with include_top=False "
                "to leave the classifier out."
            )
        else:
            hint = layout.hint(problems, checkpoint)
            if hint:
                lines.append(hint)
        lines.append("Nothing was loaded.")
        raise ValueError(" ".join(lines))
    check_finite({name: checkpoint[name] for name in layout.targets}, allow_nonfinite)
    return assignments


def load_reference(model, source, key=None, allow_nonfinite=False):
    """Load a reference checkpoint (official code / timm layout) into `model`.

    Args:
        model: a model built by keras_minimal.applications.
        source: a path (.pth/.pt/.bin/.pth.tar, read without torch; .safetensors;
            .npz) or a mapping name → array; bare or wrapped in {"model": ...} /
            {"model_ema": ...} (EMA preferred when both are present).
        key: take this wrapper instead of the default preference.
        allow_nonfinite: load tensors holding NaN or ±inf as they are; by default such a
            checkpoint is refused.

    Raises:
        ValueError: listing every missing key, unexpected key and shape mismatch, or the
            tensors holding NaN or ±inf. The model is left untouched: either every tensor
            loads or none does.

    Returns:
        The model.
    """
    layout = _layout_for(model)
    checkpoint = read_checkpoint(source, key=key)
    config = model.builder_config
    classes = config.get("classes") if config.get("include_top") else None
    for variable, value in plan_assignments(layout, checkpoint, classes, allow_nonfinite):
        variable.assign(value)
    return model
