"""Batch mixup and CutMix, as timm applies them: the host draws, the train step mixes
(`zoo_core.engine.batch_mixing`).

The pipeline stays uint8 and sparse-labelled. A one-worker map after the batch adds three small columns
per batch, drawn from numpy's generator seeded by the run's seed and the rank, so that the draws follow
the batch order whatever the thread timing:

- `perm` (int32, N): the partner of each image;
- `box` (int32, 4): top, bottom, left, right of the CutMix box (empty for mixup);
- `mix` (float32, 6): the pixel weights (of the image, of its partner) outside the box and inside it, then
  the label weights: mixed = a * x + b * x[perm], soft label = l * y + (1 - l) * y[perm].

Semantics (timm's `Mixup` in batch mode): with both enabled, each batch is CutMix with probability
`switch_prob`, else mixup. Mixup: `x = lam * x + (1 - lam) * x[perm]`. CutMix: a box of area
`(1 - lam) * H * W` (centre uniform, clipped at the border) is pasted from `x[perm]`, and `lam` is
corrected to the area actually kept. lambda comes from numpy's Beta, which handles any alpha > 0
(MindSpore 2.10's `vision.MixUpBatch` fails at random at alpha 0.2). Label smoothing is the loss's job
(`CrossEntropySmooth`), applied once.
"""
import numpy as np

from zoo_core.runtime.config import ConfigError

# timm's default probability of CutMix over mixup when both are enabled.
SWITCH_PROB = 0.5
# The columns that `MixingDraws` adds to a batch of (image, label).
DRAW_COLUMNS = ('perm', 'box', 'mix')
MIXUP, CUTMIX = 'mixup', 'cutmix'
EMPTY_BOX = (0, 0, 0, 0)


def mixing_enabled(cfg) -> bool:
    """True when the recipe mixes batches (mixup or CutMix); configs built by hand may lack the keys."""
    return cfg.get('mixup', 0.0) > 0 or cfg.get('cutmix', 0.0) > 0


def mix_weights(kind: str, lam: float) -> np.ndarray:
    """The float32 `mix` column of a batch (see the module docstring) for `kind` and its (corrected) `lam`."""
    if kind == MIXUP:
        pixels = (lam, 1.0 - lam, lam, 1.0 - lam)
    else:
        pixels = (1.0, 0.0, 0.0, 1.0)
    return np.array(pixels + (lam, 1.0 - lam), dtype=np.float32)


class MixingDraws:
    """A `Dataset.map` operation on a batch's labels: returns (labels, perm, box, mix), the draws of the
    batch's mixup or CutMix (see the module docstring).

    Args:
        mixup_alpha / cutmix_alpha: Beta(alpha, alpha) parameters; 0 switches that kind off.
        image_size: the height and width of the batch's images (the CutMix box lies within them).
        seed: seed of the operation's own generator (the run's seed and rank), so a run is repeatable.
        switch_prob: probability of CutMix when both are enabled.
    """

    def __init__(self, mixup_alpha: float = 0.0, cutmix_alpha: float = 0.0, image_size: int = 224, seed=0,
                 switch_prob: float = SWITCH_PROB):
        if mixup_alpha < 0 or cutmix_alpha < 0:
            raise ConfigError(f"mixup and cutmix must be >= 0, got mixup={mixup_alpha}, cutmix={cutmix_alpha}")
        if mixup_alpha == 0 and cutmix_alpha == 0:
            raise ConfigError("MixingDraws needs mixup > 0 or cutmix > 0")
        self.mixup_alpha = mixup_alpha
        self.cutmix_alpha = cutmix_alpha
        self.image_size = image_size
        self.switch_prob = switch_prob
        self.rng = np.random.default_rng(seed)
        self.last = None  # (kind, lam, perm, box) of the last batch, for tests and logs

    def draw(self, batch_size: int, height: int, width: int):
        """(kind, lam, perm, box) of the next batch: box is (top, bottom, left, right) for CutMix, else None."""
        use_cutmix = self.cutmix_alpha > 0 and (self.mixup_alpha == 0 or self.rng.random() < self.switch_prob)
        alpha = self.cutmix_alpha if use_cutmix else self.mixup_alpha
        lam = float(self.rng.beta(alpha, alpha))
        perm = self.rng.permutation(batch_size)
        if not use_cutmix:
            return MIXUP, lam, perm, None
        box = cutmix_box(self.rng, lam, height, width)
        top, bottom, left, right = box
        lam = 1.0 - (bottom - top) * (right - left) / float(height * width)
        return CUTMIX, lam, perm, box

    def __call__(self, labels):
        labels = np.asarray(labels)
        kind, lam, perm, box = self.draw(labels.shape[0], self.image_size, self.image_size)
        self.last = (kind, lam, perm, box)
        return (labels, perm.astype(np.int32), np.array(box or EMPTY_BOX, dtype=np.int32),
                mix_weights(kind, lam))


def cutmix_box(rng, lam, height, width):
    """A box of about `(1 - lam)` of the image's area, centre uniform, clipped: (top, bottom, left, right)."""
    ratio = np.sqrt(1.0 - lam)
    cut_h, cut_w = int(height * ratio), int(width * ratio)
    cy, cx = int(rng.integers(0, height)), int(rng.integers(0, width))
    top, bottom = np.clip((cy - cut_h // 2, cy + cut_h // 2), 0, height)
    left, right = np.clip((cx - cut_w // 2, cx + cut_w // 2), 0, width)
    return int(top), int(bottom), int(left), int(right)
