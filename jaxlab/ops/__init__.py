"""Pure functions several projects share (augmentation, estimators, masks, channels)."""

from jaxlab.ops.augment import normalize, random_crop, random_flip, crop_flip
from jaxlab.ops.dropout import inverted_dropout

__all__ = ["crop_flip", "inverted_dropout", "normalize", "random_crop", "random_flip"]
