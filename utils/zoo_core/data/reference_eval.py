"""The reference eval preprocessing, pixel for pixel, with MindSpore's ops on Pillow images.

The published weights were evaluated by torchvision's and timm's eval transforms (the ResNeSt authors'
resnest50/101/200/269 as timm's resnest50d/101e/200e/269e): Pillow decodes; `Resize(int)` resizes the
shorter side with Pillow's antialiased filter and the long side `int(size * long / short)`; `CenterCrop`
puts the crop at `round((h - th) / 2)`; `ToTensor` divides by 255; `Normalize` takes 0-1 statistics.

The C++ ops do not give those pixels (`benchmarks/preprocessing_difference.py`, shorter side to 256, crop
224, mean |diff| of the uint8 crop of china.jpg / flower.jpg): `Resize(Inter.LINEAR)` is OpenCV's
bilinear without antialiasing (12.3 / 6.3, max 176), and with Pillow's bicubic (`Inter.PILCUBIC`, whose
resize alone is exact) `CenterCrop` floors the offset where torchvision rounds half to even, one column
off on the 383-wide resize (11.6 / 6.5). MindSpore's own `Resize(int)` on a Pillow image computes the long
side as `int(size / (w / h))`, one pixel short of torchvision on some sizes (64x93 at 256: 371, not 372),
so the target size is computed here and `vision.Resize` is given both sides (docs/PREPROCESSING.md).
"""
import mindspore.dataset.vision as vision

from zoo_core.data.index import DatasetError

# Pillow's filters, as `vision.Resize` applies them to a Pillow image (torchvision's `InterpolationMode`).
PIL_INTERPOLATIONS = {
    'bilinear': vision.Inter.BILINEAR,
    'bicubic': vision.Inter.BICUBIC,
    'nearest': vision.Inter.NEAREST,
}


def reference_resized_size(width, height, size):
    """(height, width) of torchvision's `Resize(size)` for a `width` x `height` image: the shorter side
    becomes `size`, the longer `int(size * long / short)`."""
    short, long = min(width, height), max(width, height)
    new_long = int(size * long / short)
    return (new_long, size) if width <= height else (size, new_long)


class ReferenceResizeCrop:
    """Pillow image -> Pillow image: torchvision's `Resize(resize_size)` (shorter side to `resize_size`,
    filter `interpolation`: 'bilinear', 'bicubic' or 'nearest') and `CenterCrop(crop_size)`.

    `vision.Resize` and `vision.CenterCrop` are called eagerly on the Pillow image, which selects their
    Pillow implementations (`Image.resize`, a crop at torchvision's rounded offset). Given to a pipeline's
    `map` as ops of their own, they would run their C++ kernels on the image converted to an array.
    """

    def __init__(self, resize_size, crop_size, interpolation):
        if interpolation not in PIL_INTERPOLATIONS:
            raise DatasetError(f"unknown interpolation {interpolation!r}; choose from "
                               f"{', '.join(PIL_INTERPOLATIONS)}")
        self.resize_size = resize_size
        self.interpolation = PIL_INTERPOLATIONS[interpolation]
        self.center_crop = vision.CenterCrop(crop_size)

    def __call__(self, image):
        target = reference_resized_size(image.width, image.height, self.resize_size)
        if target != (image.height, image.width):  # else torchvision leaves the image untouched
            image = vision.Resize(target, interpolation=self.interpolation)(image)
        return self.center_crop(image)


def reference_crop_ops(resize_size, crop_size, interpolation):
    """Encoded image -> the reference's uint8 crop (a Pillow image): decode with Pillow, resize the
    shorter side to `resize_size`, center crop `crop_size`."""
    return [vision.Decode(to_pil=True), ReferenceResizeCrop(resize_size, crop_size, interpolation)]


def reference_uint8_ops():
    """Pillow image -> its uint8 CHW array (the crop's pixels unchanged, for normalisation in the graph)."""
    return [vision.ToNumpy(), vision.HWC2CHW()]


def reference_normalize_ops(mean, std):
    """Pillow image -> float32 CHW: `/ 255`, then `(x - mean) / std` with 0-1 statistics, as
    torchvision's `ToTensor` + `Normalize`."""
    return [vision.ToTensor(), vision.Normalize(mean=list(mean), std=list(std), is_hwc=False)]
