"""Batch mixup and CutMix, as timm applies them, in numpy: they cannot fail on a small alpha.

MindSpore 2.10's `vision.MixUpBatch` raises `addition of variable(x1 and x2) of Gamma should not be 0`
at random for alpha 0.2 (its Beta sampler draws two Gammas that underflow to 0), which stopped the
ResNeSt-50 recipe in its first epoch. Here lambda comes from numpy's Beta, which handles any alpha > 0.

Semantics (timm's `Mixup` in batch mode): with both enabled, each batch is CutMix with probability
`switch_prob`, else mixup. Mixup: `x = lam * x + (1 - lam) * x[perm]`. CutMix: a box of area
`(1 - lam) * H * W` (centre uniform, clipped at the border) is pasted from `x[perm]`, and `lam` is
corrected to the area actually kept. Labels (one-hot) mix with the same `lam` and `perm`, so every
label row still sums to 1; label smoothing is the loss's job (`CrossEntropySmooth`), applied once.
"""
import numpy as np

from zoo_core.runtime.config import ConfigError

# timm's default probability of CutMix over mixup when both are enabled.
SWITCH_PROB = 0.5


def mixing_enabled(cfg):
    """True when the recipe mixes batches (mixup or CutMix): labels are then one-hot distributions."""
    return cfg.mixup > 0 or cfg.cutmix > 0


class MixupCutmix:
    """A `Dataset.map` operation on (images NCHW, one-hot labels NK float32) batches; images come out float32.

    The pipelines send uint8 images (the network normalises them in the graph): they are cast to float32
    before mixing, since a mixup blend rounded back to uint8 would lose the blend. Normalisation is affine,
    so mixing 0-255 values and normalising afterwards equals mixing normalised images.

    Args:
        mixup_alpha / cutmix_alpha: Beta(alpha, alpha) parameters; 0 switches that kind off.
        seed: seed of the operation's own generator (the run's seed and rank), so a run is repeatable.
        switch_prob: probability of CutMix when both are enabled.
    """

    def __init__(self, mixup_alpha=0.0, cutmix_alpha=0.0, seed=0, switch_prob=SWITCH_PROB):
        if mixup_alpha < 0 or cutmix_alpha < 0:
            raise ConfigError(f"mixup and cutmix must be >= 0, got mixup={mixup_alpha}, cutmix={cutmix_alpha}")
        if mixup_alpha == 0 and cutmix_alpha == 0:
            raise ConfigError("MixupCutmix needs mixup > 0 or cutmix > 0")
        self.mixup_alpha = mixup_alpha
        self.cutmix_alpha = cutmix_alpha
        self.switch_prob = switch_prob
        self.rng = np.random.default_rng(seed)
        self.last = None  # (kind, lam, perm, box) of the last batch, for tests and logs

    def draw(self, batch_size, height, width):
        """(kind, lam, perm, box) of the next batch: box is (top, bottom, left, right) for CutMix, else None."""
        use_cutmix = self.cutmix_alpha > 0 and (self.mixup_alpha == 0 or self.rng.random() < self.switch_prob)
        alpha = self.cutmix_alpha if use_cutmix else self.mixup_alpha
        lam = float(self.rng.beta(alpha, alpha))
        perm = self.rng.permutation(batch_size)
        if not use_cutmix:
            return 'mixup', lam, perm, None
        box = cutmix_box(self.rng, lam, height, width)
        top, bottom, left, right = box
        lam = 1.0 - (bottom - top) * (right - left) / float(height * width)
        return 'cutmix', lam, perm, box

    def __call__(self, images, labels):
        images = np.asarray(images)
        labels = np.asarray(labels, dtype=np.float32)
        kind, lam, perm, box = self.draw(images.shape[0], images.shape[-2], images.shape[-1])
        self.last = (kind, lam, perm, box)
        mixed = mixup_images(images, lam, perm) if kind == 'mixup' else cutmix_images(images, perm, box)
        return mixed, (lam * labels + (1.0 - lam) * labels[perm]).astype(np.float32)


def mixup_images(images, lam, perm):
    """float32 `lam * images + (1 - lam) * images[perm]`, computed in place: a batch of 32 at 224 is 19 MB
    of float32, and every temporary array costs as much as the arithmetic."""
    mixed = np.multiply(images, np.float32(lam), dtype=np.float32)
    mixed += np.multiply(images[perm], np.float32(1.0 - lam), dtype=np.float32)
    return mixed


def cutmix_images(images, perm, box):
    """float32 `images` with the `box` (top, bottom, left, right) of `images[perm]` pasted in: pasted in the
    input's dtype (exact for uint8), then cast."""
    top, bottom, left, right = box
    mixed = images.copy()
    mixed[..., top:bottom, left:right] = images[perm, ..., top:bottom, left:right]
    return mixed.astype(np.float32, copy=False)


def cutmix_box(rng, lam, height, width):
    """A box of about `(1 - lam)` of the image's area, centre uniform, clipped: (top, bottom, left, right)."""
    ratio = np.sqrt(1.0 - lam)
    cut_h, cut_w = int(height * ratio), int(width * ratio)
    cy, cx = int(rng.integers(0, height)), int(rng.integers(0, width))
    top, bottom = np.clip((cy - cut_h // 2, cy + cut_h // 2), 0, height)
    left, right = np.clip((cx - cut_w // 2, cx + cut_w // 2), 0, width)
    return int(top), int(bottom), int(left), int(right)
