"""A published ImageNet training recipe, as data."""

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Recipe:
    """The hyper-parameters a paper or its official code trains a variant with.

    Learning rates are given at `global_batch_size` and scale linearly with the
    global batch actually used. Names follow timm / the official scripts.
    """

    model: str  # registry name, e.g. "vanillanet_5"
    source: str  # where the numbers come from
    epochs: int
    global_batch_size: int
    optimizer: str  # "lamb" | "adamw" | "sgd"
    learning_rate: float  # peak, after warmup, at global_batch_size
    weight_decay: float
    warmup_epochs: float
    min_learning_rate: float = 0.0
    momentum: float = 0.9  # SGD momentum
    # The optimizer's ε; None: the optimizer's own default (timm Lamb 1e-6, AdamW 1e-8).
    optimizer_epsilon: float | None = None
    nesterov: bool = False
    layer_decay: float | None = None  # layer-wise lr decay factor
    layer_decay_num_layers: int | None = None
    loss: str = "cross_entropy"  # or "binary_cross_entropy"
    label_smoothing: float = 0.0
    mixup_alpha: float = 0.0
    cutmix_alpha: float = 0.0
    mixup_prob: float = 1.0
    mixup_switch_prob: float = 0.5
    mix_mode: str = "batch"  # timm's per-batch mixing; "half": DeepMind's NFNet halves
    randaugment: str | None = None  # timm policy string, e.g. "rand-m9-mstd0.5-inc1"
    color_jitter: float | None = None
    random_erasing: float = 0.0
    ema_decay: float | None = None
    model_kwargs: Mapping = field(default_factory=dict)  # e.g. {"drop_rate": 0.05}
    deep_training_epochs: int | None = None  # VanillaNet's decay_epochs for λ
    agc_clipping: float | None = None  # NFNet's adaptive gradient clipping λ
    train_image_size: int = 224
    eval_image_size: int = 224
    crop_pct: float = 0.875
    crop_mode: str = "center"  # timm: "squash" resizes both sides (dm_nfnet_*)
    interpolation: str = "bicubic"
    notes: str = ""

    def scaled_learning_rate(self, global_batch_size):
        """The peak learning rate for another global batch (linear scaling rule)."""
        return self.learning_rate * global_batch_size / self.global_batch_size
