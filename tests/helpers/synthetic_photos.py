"""Photo-like test images: smooth gradients with sensor-like noise, JPEG-encoded, at varied sizes.

Unlike flat colour patches they need real resampling, and their JPEGs have the structure (quantised
detail, odd sizes) that a camera's files have. No image here comes from the network.
"""
import io

import numpy as np
from PIL import Image

NOISE_SIGMA = 12
JPEG_QUALITY = 90
# Classes differ by a hue tint, so that a short run can learn them.
TINT_STRENGTH = 0.45
# Seeds of dataset images: one block per split and class (no two images alike).
SPLIT_SEED_STRIDE = 10 ** 6
CLASS_SEED_STRIDE = 10 ** 3


def photo(seed, size=(48, 40), tint=None):
    """A photo-like RGB image of `size` (width, height); `tint` (RGB in [0, 1]) colours it."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size[1], 0:size[0]] / max(size)
    phase = rng.uniform(0, 2 * np.pi)
    base = np.stack([np.sin(3 * x + phase) * 0.5 + 0.5, y, np.cos(2 * y + x + phase) * 0.5 + 0.5], axis=-1)
    if tint is not None:
        base = (1 - TINT_STRENGTH) * base + TINT_STRENGTH * np.asarray(tint)
    pixels = np.clip(base * 255 + rng.normal(0, NOISE_SIGMA, base.shape), 0, 255).astype(np.uint8)
    return Image.fromarray(pixels)


def encoded(image, image_format, **options):
    """The bytes of `image` saved as `image_format`."""
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def photo_jpeg(seed, size=(48, 40), tint=None):
    """A photo-like JPEG file's bytes."""
    return encoded(photo(seed, size, tint), 'JPEG', quality=JPEG_QUALITY)


def write_photo_dataset(root, class_tints, train_per_class, val_per_class, sizes=((64, 48), (48, 64), (57, 43))):
    """An ImageFolder dataset `root/{train,val}/class<k>/*.jpg` of tinted photos, sizes cycling through
    `sizes`; returns `root`."""
    for split_number, (split, count) in enumerate((('train', train_per_class), ('val', val_per_class))):
        for index, tint in enumerate(class_tints):
            folder = root / split / f'class{index}'
            folder.mkdir(parents=True)
            for k in range(count):
                seed = split_number * SPLIT_SEED_STRIDE + index * CLASS_SEED_STRIDE + k
                (folder / f'{k:04d}.jpg').write_bytes(photo_jpeg(seed, sizes[k % len(sizes)], tint))
    return root
