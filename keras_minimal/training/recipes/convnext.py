"""ConvNeXt-T/S/B/L on ImageNet-1k: the paper's Table 5 settings (Liu et al. 2022, appendix A.1)
and the official README's commands (facebookresearch/ConvNeXt, main.py defaults).

AdamW at lr 4e-3 for a global batch of 4096, weight decay 0.05, 300 epochs with 20 of linear
warmup then cosine to 1e-6, RandAugment rand-m9-mstd0.5-inc1, mixup 0.8, cutmix 1.0, label
smoothing 0.1, random erasing 0.25, layer scale 1e-6, EMA 0.9999, eval crop 0.875 bicubic.
Stochastic depth grows with size: T 0.1, S 0.4, B 0.5, L 0.5 (passed to the builder through
`model_kwargs`). ConvNeXt-XL has no ImageNet-1k-only recipe: the paper trains it only with
ImageNet-22k pre-training (90 epochs on 22k, then 30 epochs of 1k fine-tuning), so it has no
entry here.
"""

from keras_minimal.training.recipes.schema import Recipe

SOURCE = "Liu et al. 2022 (arXiv 2201.03545) Table 5 + facebookresearch/ConvNeXt main.py"

DROP_PATH_RATES = {
    "convnext_tiny": 0.1,
    "convnext_small": 0.4,
    "convnext_base": 0.5,
    "convnext_large": 0.5,
}


def _convnext(model, drop_path_rate):
    return Recipe(
        model=model,
        source=SOURCE,
        epochs=300,
        global_batch_size=4096,
        optimizer="adamw",
        learning_rate=4e-3,
        weight_decay=0.05,
        warmup_epochs=20,
        min_learning_rate=1e-6,
        label_smoothing=0.1,
        mixup_alpha=0.8,
        cutmix_alpha=1.0,
        randaugment="rand-m9-mstd0.5-inc1",
        color_jitter=0.4,
        random_erasing=0.25,
        ema_decay=0.9999,
        model_kwargs={"drop_path_rate": drop_path_rate, "layer_scale_init_value": 1e-6},
        notes="AdamW betas (0.9, 0.999); head_init_scale 1.0 for training from scratch.",
    )


RECIPES = {name: _convnext(name, rate) for name, rate in DROP_PATH_RATES.items()}
