"""NFNet-F0 … F7: the paper's ImageNet recipe (Brock et al. 2021, §4.1 and appendix;
google-deepmind nfnets experiment_nfnets.py, dataset.py).

The paper trains at a global batch of 4096 with lr 0.1·B/256 = 1.6; here the rate is given
per 256 images (global_batch_size=256, learning_rate=0.1) and scales linearly. Details
the schema has no field for:

- weight decay 2e-5 is L2 added to the gradient (DeepMind's SGD), and skips gains and
  biases; Keras' SGD(weight_decay=...) is decoupled and applies to every variable unless
  told otherwise (optimizer.exclude_from_weight_decay(var_names=["gain", "bias",
  "skip_gain"])).
- AGC (agc_clipping, λ = 0.01, ε = 1e-3) clips every parameter but the final linear
  layer's weight (DeepMind clips its bias; our default exclusion leaves the whole
  classifier out, as timm does): model.enable_adaptive_gradient_clipping(0.01).
- MixUp (α = 0.2) on half of each batch and CutMix (uniform area) on the other half, a λ
  per example (mix_mode="half"; DeepMind draws the two images of a pair from a batch of
  twice the size, we pair each image with the batch in reverse order as timm does),
  RandAugment with 4 layers of magnitude 5 (F0), 10 (F1, F2) or 15 (F3–F7), DeepMind's
  TF implementation; the timm policy strings below are the nearest equivalent (timm, and
  so this library, clip a magnitude above mmax = 10 to 10: F3–F7 run at full severity).
- The learning rate warms up linearly from 0 over 5 epochs, then follows a cosine to 0;
  an EMA of the weights (decay 0.99999, no warm-up) is evaluated.
- Evaluation crops follow timm's dm_nfnet_* configuration (crop_pct, bicubic, squash).
"""

from dataclasses import dataclass

from keras_minimal.training.recipes.schema import Recipe

SOURCE = (
    "Brock et al. 2021 (arXiv 2102.06171) §4.1 + google-deepmind nfnets experiment_nfnets.py; "
    "eval crops: timm dm_nfnet_* pretrained configs"
)
NOTES = (
    "Paper batch 4096 (lr 1.6). Weight decay skips gains and biases. AGC λ=0.01 on every "
    "parameter but the classifier. MixUp α=0.2 on half of each batch, CutMix on the other half."
)


@dataclass(frozen=True)
class _Row:
    model: str
    train_image_size: int
    eval_image_size: int
    drop_rate: float
    randaugment_magnitude: int
    crop_pct: float


_ROWS = (
    _Row("nfnet_f0", 192, 256, 0.2, 5, 0.9),
    _Row("nfnet_f1", 224, 320, 0.3, 10, 0.91),
    _Row("nfnet_f2", 256, 352, 0.4, 10, 0.92),
    _Row("nfnet_f3", 320, 416, 0.4, 15, 0.94),
    _Row("nfnet_f4", 384, 512, 0.5, 15, 0.951),
    _Row("nfnet_f5", 416, 544, 0.5, 15, 0.954),
    _Row("nfnet_f6", 448, 576, 0.5, 15, 0.956),
    _Row("nfnet_f7", 480, 608, 0.5, 15, 0.9),  # no released F7: timm's default crop
)


def _nfnet(row):
    return Recipe(
        model=row.model,
        source=SOURCE,
        epochs=360,
        global_batch_size=256,
        optimizer="sgd",
        learning_rate=0.1,
        weight_decay=2e-5,
        warmup_epochs=5,
        min_learning_rate=0.0,
        momentum=0.9,
        nesterov=True,
        loss="cross_entropy",
        label_smoothing=0.1,
        mixup_alpha=0.2,
        cutmix_alpha=1.0,
        mixup_prob=1.0,
        mix_mode="half",
        randaugment=f"rand-m{row.randaugment_magnitude}-n4",
        ema_decay=0.99999,
        model_kwargs={"drop_rate": row.drop_rate, "drop_path_rate": 0.25},
        agc_clipping=0.01,
        train_image_size=row.train_image_size,
        eval_image_size=row.eval_image_size,
        crop_pct=row.crop_pct,
        crop_mode="squash",
        interpolation="bicubic",
        notes=NOTES,
    )


RECIPES = {row.model: _nfnet(row) for row in _ROWS}
