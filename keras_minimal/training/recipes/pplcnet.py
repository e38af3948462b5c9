"""PP-LCNet x0.25 … x2.5 on ImageNet-1k: PaddleClas' configs
(ppcls/configs/ImageNet/PPLCNet/PPLCNet_x*.yaml).

SGD with momentum 0.9 at lr 0.8 for a global batch of 2048 (512 per GPU × 4), cosine decay
after 5 warmup epochs, 360 epochs, L2 weight decay 3e-5 up to x1.0 and 4e-5 above, label
smoothing 0.1, random-resized crop 224 and horizontal flip; x2.5 adds AutoAugment, run here
as timm's "original" policy. PaddleClas' AutoAugment (ppcls/data/preprocess/ops/
autoaugment.py, DeepVoltaire's ImageNetPolicy) has the same 25 sub-policies but its own
magnitude ranges (e.g. solarize thresholds falling with the magnitude, unsigned rotation,
fill 128). Evaluation: resize the short side to 256, centre crop 224 (crop_pct 0.875),
bilinear (OpenCV's default in PaddleClas). Dropout 0.2 before the classifier (the
builder's default). The paper's best models add SSLD distillation, not included here.
"""

from keras_minimal.training.recipes.schema import Recipe

SOURCE = "PaddlePaddle/PaddleClas ppcls/configs/ImageNet/PPLCNet/PPLCNet_x*.yaml"

SCALES = {
    "pplcnet_x0_25": 0.25,
    "pplcnet_x0_35": 0.35,
    "pplcnet_x0_5": 0.5,
    "pplcnet_x0_75": 0.75,
    "pplcnet_x1_0": 1.0,
    "pplcnet_x1_5": 1.5,
    "pplcnet_x2_0": 2.0,
    "pplcnet_x2_5": 2.5,
}


def _pplcnet(model, scale):
    return Recipe(
        model=model,
        source=SOURCE,
        epochs=360,
        global_batch_size=2048,
        optimizer="sgd",
        learning_rate=0.8,
        weight_decay=3e-5 if scale <= 1.0 else 4e-5,
        warmup_epochs=5,
        momentum=0.9,
        label_smoothing=0.1,
        randaugment="original" if scale == 2.5 else None,
        interpolation="bilinear",
        model_kwargs={"dropout_rate": 0.2},
        notes=(
            "Weight decay is Paddle's L2 regularizer (coupled, added to the gradient)."
            + (" AutoAugment: timm's 'original' ImageNet policy." if scale == 2.5 else "")
        ),
    )


RECIPES = {name: _pplcnet(name, scale) for name, scale in SCALES.items()}
