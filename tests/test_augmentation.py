"""Policy strings in timm's grammar, the MindSpore ops they become, and random erasing in the train pipeline."""
import numpy as np
import mindspore.dataset as ds
import mindspore.dataset.transforms as transforms
import mindspore.dataset.vision as vision
import pytest
from easydict import EasyDict
from PIL import Image

from zoo_core.data.autoaug import (MAGNITUDE_BINS, MAGNITUDE_QUANTILES, augmentation_ops, mean_fill, noisy_magnitude_op,
                                   noisy_magnitudes, policy_warnings)
from zoo_core.data.dataset import create_train_dataset
from zoo_core.data.erasing import ERASE_SCALE, random_erasing_ops
from zoo_core.data.policy_string import RandAugmentSpec, parse_rand_augment
from zoo_core.data.sampling import RepeatAugmentSampler
from zoo_core.models.registry import IMAGENET_MEAN, IMAGENET_STD
from zoo_core.runtime.config import ConfigError

IMAGES = 24
SEED = 3


@pytest.mark.parametrize('text, expected', [
    ('rand-m9-mstd0.5-inc1', RandAugmentSpec(magnitude=9, magnitude_std=0.5, increasing=True)),
    ('rand-m9-n3', RandAugmentSpec(magnitude=9, num_ops=3)),
    ('randaug-m7-mstd0.5', RandAugmentSpec(magnitude=7, magnitude_std=0.5)),
    ('rand-m6-n4-mstd1.0-mmax8-p0.8', RandAugmentSpec(6, 4, 1.0, 8, False, 0.8)),
    ('rand', RandAugmentSpec()),
])
def test_policy_strings_parse_as_timm_reads_them(text, expected):
    assert parse_rand_augment(text) == expected


@pytest.mark.parametrize('text, message', [
    ('rand-m9-w0', "unknown key 'w'"),
    ('rand-m9-nx', "cannot read section 'nx'"),
    ('rand-n0', 'at least 1'),
    ('rand-m11', 'above 10'),
    ('rand-m9-mmax8', 'above mmax 8'),
    ('rand-inc2', 'inc is 0 or 1'),
    ('rand-p1.5', 'probability'),
])
def test_a_bad_policy_string_is_refused_with_the_section_named(text, message):
    with pytest.raises(ConfigError, match=message):
        augmentation_ops(text)


def test_an_mstd_above_100_means_a_uniform_magnitude_as_in_timm():
    assert parse_rand_augment('rand-m9-mstd101').uniform_magnitude
    assert not parse_rand_augment('rand-m9-mstd0.5').uniform_magnitude


def test_each_op_is_a_single_randaugment_op_at_timms_level_inside_random_apply():
    ops = augmentation_ops('rand-m9-n3-inc1')
    assert len(ops) == 3 and all(isinstance(op, transforms.RandomApply) for op in ops)
    assert ops[0].prob == 0.5
    [inner] = ops[0].transforms
    assert isinstance(inner, vision.RandAugment)
    assert (inner.num_ops, inner.num_magnitude_bins) == (1, MAGNITUDE_BINS)
    assert inner.magnitude / (inner.num_magnitude_bins - 1) == pytest.approx(0.9)  # timm's level m9 / 10
    assert tuple(inner.fill_value) == mean_fill()


def test_a_probability_of_one_leaves_the_ops_unwrapped():
    ops = augmentation_ops('rand-m5-n2-p1.0')
    assert len(ops) == 2 and all(isinstance(op, vision.RandAugment) for op in ops)
    assert ops[0].magnitude == 50


def test_magnitude_noise_draws_around_m_within_zero_and_mmax():
    draws = np.array(noisy_magnitudes(9, 0.5, 10, False))
    assert draws.min() >= 0 and draws.max() <= 10
    assert draws.mean() == pytest.approx(9, abs=0.05) and 0.4 < draws.std() < 0.5  # clipped at 10
    draws = np.array(noisy_magnitudes(9, 101, 10, True))
    assert draws.min() >= 0 and draws.max() <= 9 and draws.mean() == pytest.approx(4.5, abs=0.05)


def test_a_noisy_magnitude_is_a_cpp_choice_among_its_quantiles_bins():
    op = noisy_magnitude_op(9, 0.5, 10, False, mean_fill())
    assert isinstance(op, transforms.RandomChoice) and len(op.transforms) == MAGNITUDE_QUANTILES
    bins = sorted({inner.magnitude for inner in op.transforms})
    assert len(bins) > 10 and bins[0] < 90 < bins[-1] <= 100  # spread around m9 (bin 90), clipped at mmax


def test_noisy_policy_draws_repeat_with_several_workers_under_any_timing():
    images = [np.random.default_rng(k).integers(0, 256, (24, 24, 3), dtype=np.uint8) for k in range(IMAGES)]

    def run():
        ds.config.set_seed(SEED)
        data = ds.NumpySlicesDataset({'image': np.stack(images)}, shuffle=False)
        data = data.map(augmentation_ops('rand-m9-n2-mstd0.5-inc1'), input_columns='image', num_parallel_workers=2)
        return [row['image'] for row in data.create_dict_iterator(output_numpy=True, num_epochs=1)]

    first, second = run(), run()
    assert all(np.array_equal(a, b) for a, b in zip(first, second))
    assert sum(not np.array_equal(a, b) for a, b in zip(first, images)) > IMAGES // 2


def test_policy_string_ops_change_images_and_probability_zero_leaves_them():
    ds.config.set_seed(SEED)
    rng = np.random.default_rng(SEED)
    images = [rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) for _ in range(IMAGES)]
    strong = transforms.Compose(augmentation_ops('rand-m9-mstd0.5-inc1-n2-p1.0'))
    changed = sum(not np.array_equal(strong(image), image) for image in images)
    assert changed >= IMAGES * 3 // 4  # only Identity (1 op of 14) twice leaves an image as it was
    never = transforms.Compose(augmentation_ops('rand-m9-n2-p0'))
    assert all(np.array_equal(never(image), image) for image in images)


def test_an_inc0_policy_is_warned_about_and_inc1_is_not():
    assert 'inc0' in policy_warnings('rand-m9-mstd0.5')[0]
    assert policy_warnings('rand-m9-mstd0.5-inc1') == []
    assert policy_warnings('autoaugment') == []


def write_flat_folder(root, per_class=4, distinct=False):
    """train/ with flat images, one colour per class (per image with `distinct`, told apart by red):
    without erasing every pixel of a channel is the same."""
    for label, colour in enumerate(((200, 30, 30), (30, 200, 30))):
        folder = root / 'train' / f'class{label}'
        folder.mkdir(parents=True)
        for index in range(per_class):
            red = colour[0] - 9 * index if distinct else colour[0]
            Image.fromarray(np.full((24, 24, 3), (red,) + colour[1:], np.uint8)).save(folder / f'{index}.png')
    return root


def flat_cfg(root, reprob):
    return EasyDict(data_dir=str(root), num_classes=2, image_size=16, crop_pct=1.0, interpolation='bilinear',
                    mean=list(IMAGENET_MEAN), std=list(IMAGENET_STD), batch_size=8, eval_batch_size=8,
                    num_parallel_workers=1, color_jitter=0.0, autoaugment='none', crop_scale_min=0.5,
                    mixup=0.0, cutmix=0.0, seed=SEED, reprob=reprob)


def spread_per_image(root, reprob):
    images, _ = next(create_train_dataset(flat_cfg(root, reprob)).create_tuple_iterator(num_epochs=1, output_numpy=True))
    return images.reshape(len(images), 3, -1).std(axis=2).max(axis=1)


def erased_pixels(root, reprob):
    """(fraction of the pixels of each image that differ from its class colour, the values they hold)."""
    images, labels = next(create_train_dataset(flat_cfg(root, reprob)).create_tuple_iterator(num_epochs=1,
                                                                                             output_numpy=True))
    colours = np.array([(200, 30, 30), (30, 200, 30)], np.uint8)[labels][:, :, None, None]
    changed = np.any(images != colours, axis=1)
    return changed.reshape(len(images), -1).mean(axis=1), images.transpose(0, 2, 3, 1)[changed]


def test_random_erasing_fills_a_box_of_every_image_with_the_mean_pixel_at_probability_one(tmp_path):
    root = write_flat_folder(tmp_path)
    untouched, _ = erased_pixels(root, 0.0)
    assert np.all(untouched == 0)
    fraction, values = erased_pixels(root, 1.0)
    assert np.all(fraction >= ERASE_SCALE[0] * 0.5) and np.all(fraction <= ERASE_SCALE[1] * 1.5)
    assert np.all(values == np.array(mean_fill(IMAGENET_MEAN), np.uint8))


def test_random_erasing_erases_at_its_probability_with_a_constant_fill():
    [op] = random_erasing_ops(0.25, (124, 116, 104), seed=1)
    image = np.zeros((3, 32, 32), np.uint8)
    erased = [op(image) for _ in range(2000)]
    touched = [e for e in erased if e.any()]
    assert len(touched) / len(erased) == pytest.approx(0.25, abs=0.03)
    assert all(set(np.unique(e[channel])) <= {0, value} for e in touched for channel, value in
               enumerate((124, 116, 104)))
    assert random_erasing_ops(0.0, (124, 116, 104)) == []


def test_random_erasing_repeats_its_draws_for_a_seed_through_a_two_worker_pipeline(tmp_path):
    root = write_flat_folder(tmp_path, per_class=8, distinct=True)
    cfg = dict(flat_cfg(root, 0.5), num_parallel_workers=2)

    def batches():
        return [images for images, _ in create_train_dataset(EasyDict(cfg)).create_tuple_iterator(
            num_epochs=1, output_numpy=True)]

    ds.config.set_seed(SEED)
    first = batches()
    ds.config.set_seed(SEED)
    second = batches()
    assert all(np.array_equal(a, b) for a, b in zip(first, second))


# --- repeated augmentation --------------------------------------------------------------------------------

def test_repeated_augmentation_deals_each_images_copies_to_different_ranks_in_the_same_steps():
    ranks, repeats, size = 3, 3, 10
    samplers = [RepeatAugmentSampler(size, rank, ranks, repeats, SEED) for rank in range(ranks)]
    shares = [sampler.epoch_indices(0) for sampler in samplers]
    assert all(len(share) == size // ranks for share in shares)  # the epoch keeps its length
    for step in range(size // ranks):
        assert len({int(share[step]) for share in shares}) == 1  # one image, augmented on every rank


def test_repeated_augmentation_draws_a_new_permutation_each_epoch_the_same_on_every_rank():
    first = RepeatAugmentSampler(12, 0, 2, 2, SEED)
    other_rank = RepeatAugmentSampler(12, 1, 2, 2, SEED)
    epoch0, epoch1 = list(first), list(first)
    assert epoch0 != epoch1 and epoch0 == list(RepeatAugmentSampler(12, 0, 2, 2, SEED))
    assert [int(i) for i in other_rank.epoch_indices(0)] == epoch0  # repeats 2 over 2 ranks: the same images


def test_the_train_pipeline_repeats_each_image_in_a_row_on_one_process(tmp_path):
    root = write_flat_folder(tmp_path, per_class=6, distinct=True)
    cfg = dict(flat_cfg(root, 0.0), aug_repeats=3, batch_size=1)
    data = create_train_dataset(EasyDict(cfg))
    assert data.get_dataset_size() == 12
    reds = [round(float(batch[0][0, 0].mean()), 4) for batch in data.create_tuple_iterator(num_epochs=1,
                                                                                         output_numpy=True)]
    assert all(reds[i] == reds[i + 1] == reds[i + 2] for i in range(0, 12, 3)), reds
    assert len(set(reds)) == 4
