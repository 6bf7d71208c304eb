"""Pure functions several projects share (augmentation, estimators, masks, channels)."""

from jaxlab.ops.augment import normalize, random_crop, random_flip, crop_flip

__all__ = ["crop_flip", "normalize", "random_crop", "random_flip"]
