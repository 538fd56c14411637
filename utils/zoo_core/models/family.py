"""A model family: the one object that a model folder hands to the shared engine.

It holds the family's variant registry, its training recipe (whose `net` is the default network), the
short run on the built-in demo dataset, and what a variant changes in the recipe. train, eval, export,
inference, postprocess and predict all take it, so every entry point of a model folder is one line.

Weights of an unnamed variant are looked up in every registry the process has created
(`zoo_core.models.registry.known_registries`).
"""
from dataclasses import dataclass, field
from typing import Any, Collection, Dict, List, Mapping, Optional

from easydict import EasyDict

from zoo_core.models.registry import PretrainedConfig, Registry
from zoo_core.runtime.config import build_config

def preprocessing_settings(preprocessing: PretrainedConfig) -> Dict[str, Any]:
    """The recipe keys that a variant's published eval preprocessing sets: resolution, crop, resize
    filter and normalisation (a variant trains and evaluates at its published size)."""
    return dict(image_size=preprocessing.input_size, crop_pct=preprocessing.crop_pct,
                interpolation=preprocessing.interpolation, mean=list(preprocessing.mean),
                std=list(preprocessing.std))


@dataclass(frozen=True, eq=False)
class ModelFamily:
    """A family of networks and how to train them.

    Args:
        registry: the variants by name.
        recipe: every config key with the family's default (`recipe['net']` is the default network).
        demo_preset: what the short run on the built-in demo dataset changes in the recipe.
        training_presets: per variant, training settings beyond its published preprocessing
            (e.g. the DropBlock of the large ResNeSts).
        configs_dir: the model folder's `configs/`, the recipe files that `--config NAME` finds.
    """
    registry: Registry
    recipe: Mapping[str, Any]
    demo_preset: Mapping[str, Any]
    training_presets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    configs_dir: Optional[str] = None

    def __post_init__(self) -> None:
        self.registry.variant(self.default_net)  # the default must be a variant

    @property
    def name(self) -> str:
        """The family's name, e.g. 'ResNeSt'."""
        return self.registry.family

    @property
    def default_net(self) -> str:
        """The variant a command uses when no `--net` is given."""
        return self.recipe['net']

    def preprocessing(self, net: str) -> PretrainedConfig:
        """The published weights and eval preprocessing of variant `net`."""
        return self.registry.variant(net).pretrained

    def network_preset(self, net: str) -> Dict[str, Any]:
        """What variant `net` changes in the recipe: its published preprocessing, then its training preset."""
        return dict(preprocessing_settings(self.preprocessing(net)), **self.training_presets.get(net, {}))

    def select_presets(self, explicit: EasyDict) -> List[Dict[str, Any]]:
        """`build_config`'s presets: the network's, then the demo run's when no dataset is given."""
        presets = [self.network_preset(explicit.net)]
        if not explicit.data_dir:
            presets.append(dict(self.demo_preset))
        return presets

    def get_config(self, argv: Optional[List[str]] = None, description: Optional[str] = None,
                   listed_keys: Optional[Collection[str]] = None) -> EasyDict:
        """The effective config of a run: recipe <- network preset <- demo preset <- --config file <- flags.

        `description` and `listed_keys` are the command's `--help` text and the keys it lists (default: all).
        """
        return build_config(self.recipe, self.select_presets, argv, description, listed_keys, self.configs_dir)

