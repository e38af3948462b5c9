"""Per-step learning-rate schedule of the recipes: linear warmup, then cosine decay."""

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_minimal")
class WarmupCosineDecay(keras.optimizers.schedules.LearningRateSchedule):
    """The per-iteration schedule of the official ConvNeXt / VanillaNet utils.cosine_scheduler.

    Steps [0, warmup_steps): np.linspace(warmup_start, peak, warmup_steps), i.e. the last
    warmup step already reaches `peak`. Then, with k = step − warmup_steps and
    K = total_steps − warmup_steps: min + ½(peak − min)(1 + cos(πk/K)); min from
    total_steps on. The optimizer's `iterations` is the step, so the schedule resumes
    with the optimizer state.
    """

    def __init__(self, peak, total_steps, warmup_steps=0, minimum=0.0, warmup_start=0.0):
        if total_steps < 1 or not 0 <= warmup_steps <= total_steps:
            raise ValueError(
                "Need total_steps ≥ 1 and 0 ≤ warmup_steps ≤ total_steps. Received: "
                f"total_steps={total_steps}, warmup_steps={warmup_steps}"
            )
        self.peak = float(peak)
        self.total_steps = int(total_steps)
        self.warmup_steps = int(warmup_steps)
        self.minimum = float(minimum)
        self.warmup_start = float(warmup_start)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        warmup_span = max(self.warmup_steps - 1, 1)
        warmup = self.warmup_start + (self.peak - self.warmup_start) * step / warmup_span
        decay_steps = max(self.total_steps - self.warmup_steps, 1)
        progress = ops.clip((step - self.warmup_steps) / decay_steps, 0.0, 1.0)
        cosine = self.minimum + 0.5 * (self.peak - self.minimum) * (
            1.0 + ops.cos(math.pi * progress)
        )
        return ops.where(step < self.warmup_steps, warmup, cosine)

    def get_config(self):
        return {
            "peak": self.peak,
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
            "minimum": self.minimum,
            "warmup_start": self.warmup_start,
        }
