"""Channel-count rounding shared by the families (timm's `make_divisible`)."""


def make_divisible(value, divisor=8, min_value=None, round_limit=0.9):
    """The nearest multiple of `divisor` (at least `min_value`, default divisor), rounded up
    by one more step where rounding would lose more than 1 − round_limit of `value`
    (PaddleClas / timm; timm's squeeze-excite widths use round_limit=0)."""
    min_value = min_value or divisor
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < round_limit * value:
        rounded += divisor
    return rounded
