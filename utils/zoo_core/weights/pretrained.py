"""Networks with pretrained weights: finding the file (a path, or the local weight cache), reading it
(MindSpore checkpoint, or a reference PyTorch/safetensors file converted on the fly) and loading it,
with a new classifier when the number of classes differs.

`create_network` is the one factory that builds a variant and then loads its weights; the registry
itself only builds. The cache is the folder `$ZOO_WEIGHTS_HOME` (default `~/.cache/zoo_weights`);
`download_pretrained` fills it from a variant's published URL.
"""
from __future__ import annotations

import hashlib
import logging
import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Optional, Union

from zoo_core.models.backbone import CLASSIFIER_PREFIX
from zoo_core.models.registry import PretrainedConfig, Registry
from zoo_core.runtime.errors import MissingFileError, ZooError
from zoo_core.weights.files import read_weights
from zoo_core.weights.fit import WeightMismatchError, classifier_classes, load_weights
from zoo_core.weights.identify import mismatch_error
from zoo_core.runtime.config import Setting, declare

if TYPE_CHECKING:  # names used in annotations only
    from mindspore import nn

    from zoo_core.weights.files import StrPath

WEIGHTS_HOME_ENV = 'ZOO_WEIGHTS_HOME'
DEFAULT_WEIGHTS_HOME = '~/.cache/zoo_weights'
# `pretrained=True` or this string: the variant's published weights (`PretrainedConfig.file_names`).
DEFAULT_WEIGHTS = 'default'
DOWNLOAD_TIMEOUT_S = 60
PARTIAL_DOWNLOAD_SUFFIX = '.part'
HASH_CHUNK_BYTES = 1 << 20
# The reference weights are ImageNet's: a network is built with their classifier, then fitted.
PRETRAINED_CLASSES = 1000
# For the type checker: what `pretrained` may be, a weight file (path or bare file name) or True/'default'.
PretrainedWeights = Union[str, 'os.PathLike[str]', Literal[True]]

logger = logging.getLogger('zoo_core')  # the zoo's logger, configured by `zoo_core.runtime.logging`


def weights_home() -> Path:
    """The local weight cache folder: `$ZOO_WEIGHTS_HOME`, default `~/.cache/zoo_weights`."""
    return Path(os.environ.get(WEIGHTS_HOME_ENV) or DEFAULT_WEIGHTS_HOME).expanduser()


def find_weights_file(name: str, config: PretrainedConfig, pretrained: PretrainedWeights) -> Path:
    """The weight file that `pretrained` means for variant `name` (published weights: `config`).

    `pretrained` is a path; or a bare file name, looked up in the current folder, then in the cache
    (`weights_home()`); or `True`/`'default'`: the variant's published file names, in the cache.
    Raises `MissingFileError` (a `FileNotFoundError`) saying where it looked.
    """
    home = weights_home()
    if pretrained is True or pretrained == DEFAULT_WEIGHTS:
        if not config.file_names:
            raise MissingFileError(f"{name} has no published pretrained weights")
        candidates = [home / file_name for file_name in config.file_names]
        for candidate in candidates:
            if candidate.is_file():
                return candidate
        raise MissingFileError(
            f"no pretrained weights for {name} in {home} (${WEIGHTS_HOME_ENV}): expected "
            f"{' or '.join(config.file_names)}; download {config.url} there (`download_pretrained`)")
    path = Path(pretrained).expanduser()
    if path.is_file():
        return path
    if len(path.parts) > 1:
        raise MissingFileError(f"no weight file {pretrained}")
    if (home / path).is_file():
        return home / path
    raise MissingFileError(f"no weight file {pretrained}, neither here nor in {home} (${WEIGHTS_HOME_ENV})")


class DownloadError(ZooError):
    """A download that failed or did not give the published file (its SHA-256 differs): nothing is kept."""


def file_sha256(path: StrPath) -> str:
    """The hex SHA-256 of the file at `path`, read in chunks."""
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for chunk in iter(lambda: handle.read(HASH_CHUNK_BYTES), b''):
            digest.update(chunk)
    return digest.hexdigest()


def check_sha256(path: StrPath, expected: str, url: str) -> None:
    """Raise `DownloadError` unless the SHA-256 of `path` starts with `expected` (hex); '' checks nothing."""
    if not expected:
        logger.warning("%s has no published SHA-256: the download is not verified", url)
        return
    actual = file_sha256(path)
    if not actual.startswith(expected.lower()):
        raise DownloadError(f"the file downloaded from {url} has SHA-256 {actual[:len(expected)]}..., not the "
                            f"published {expected}...: it was deleted (an interrupted or altered download); "
                            "download it again")


def download_pretrained(config: PretrainedConfig, cache_dir: Optional[StrPath] = None) -> Path:
    """Download the published weights of `config` into `cache_dir` (default `weights_home()`) unless
    already there; returns the file's path.

    The file appears only once it is complete and its SHA-256 starts with `config.sha256` (the hex digits
    in the authors', torchvision's and timm's release file names); otherwise it is deleted and a
    `DownloadError` raised."""
    if not config.url or not config.file_names:
        raise ZooError("this variant has no published pretrained weights to download")
    cache = Path(cache_dir).expanduser() if cache_dir else weights_home()
    target = cache / config.file_names[0]
    if target.is_file():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + PARTIAL_DOWNLOAD_SUFFIX)
    try:
        try:
            with urllib.request.urlopen(config.url, timeout=DOWNLOAD_TIMEOUT_S) as response, \
                    open(partial, 'wb') as out:
                shutil.copyfileobj(response, out)
        except (urllib.error.URLError, OSError) as error:  # offline, refused, timed out, HTTP errors
            reason = getattr(error, 'reason', None) or error
            raise DownloadError(f"cannot download {config.url} ({reason}); on a machine without internet access, "
                                f"put {target.name} into {cache} (or into the folder ${WEIGHTS_HOME_ENV} names)") from None
        check_sha256(partial, config.sha256, config.url)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def load_pretrained(net: nn.Cell, name: str, config: PretrainedConfig, pretrained: PretrainedWeights,
                    num_classes: int) -> nn.Cell:
    """Load the weights that `pretrained` means (see `find_weights_file`) into `net`, variant `name`;
    returns `net` with a `num_classes` classifier.

    A MindSpore `.ckpt` (converted, or saved by training: its optimizer state is ignored) is loaded
    as is; a `.pth`/`.pt`/`.bin`/`.safetensors` reference file is converted on the fly. When the file's
    classifier has another number of classes, its `fc.*` is dropped and a new classifier initialised.
    Every other tensor must fit (`WeightMismatchError` otherwise, naming the variant the file holds).
    """
    path = find_weights_file(name, config, pretrained)
    weights = read_weights(path)
    file_classes = classifier_classes(weights)
    keep_classifier = file_classes == num_classes
    if not keep_classifier:
        logger.info("%s: %s has a %d-class classifier, not %d classes: its %s* is not loaded, a new "
                    "classifier is initialised", name, path, file_classes, num_classes, CLASSIFIER_PREFIX)
    if not keep_classifier or net.num_classes != num_classes:
        net.reset_classifier(num_classes)
    try:
        load_weights(net, weights, ignore_prefixes=() if keep_classifier else (CLASSIFIER_PREFIX,))
    except WeightMismatchError as err:
        raise mismatch_error(path, name, weights, err) from None
    return net


def create_network(registry: Registry, name: str, num_classes: int = 1000,
                   pretrained: Optional[PretrainedWeights] = None, **options: Any) -> nn.Cell:
    """Build variant `name` of `registry`, from pretrained weights when `pretrained` is given.

    Args:
        num_classes: classifier outputs (0 for a headless feature extractor).
        pretrained: a MindSpore checkpoint, a PyTorch/safetensors file of the reference weights, a file
            name looked up in the weight cache (`ZOO_WEIGHTS_HOME`), or True/'default' for the variant's
            published file there.
        options: `drop_rate`, `drop_path_rate`, `drop_block_rate`, `zero_init_last`, `in_chans`.
    """
    if not pretrained:
        return registry.build(name, num_classes=num_classes, **options)
    net = registry.build(name, num_classes=PRETRAINED_CLASSES, **options)
    return load_pretrained(net, name, registry.variant(name).pretrained, pretrained=pretrained,
                           num_classes=num_classes)


# The setting of the weights a run starts from (declared here, assembled by zoo_core.engine.settings).
PRETRAINED_SETTINGS = declare(
    __name__,
    Setting('pretrained', '', 'weights to start from (train) or to evaluate (eval): a MindSpore, PyTorch or '
            'safetensors file, or a file name in the weight cache', 'zoo', eval=True),
)
