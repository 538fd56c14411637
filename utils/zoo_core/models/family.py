"""A model family: the one object that a model folder hands to the shared engine.

It holds the family's variant registry, its training recipe (whose `net` is the default network), the
short run on the built-in demo dataset, and what a variant changes in the recipe. train, eval, export,
inference, postprocess and predict all take it, so every entry point of a model folder is one line.

Weights of an unnamed variant are looked up in every registry the process has created
(`zoo_core.models.registry.known_registries`).
"""
import sys
from dataclasses import dataclass, field
from typing import Any, Collection, Dict, List, Mapping, Optional

from easydict import EasyDict

from zoo_core.models.registry import PretrainedConfig, Registry
from zoo_core.runtime.config import (FLAGS_LAYER, Layer, ResolvedConfig, Setting, config_file_layer, flag_value,
                                     parse_flags, resolve)

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
        settings: every key a command takes, declared beside the code that reads it
            (`zoo_core.engine.settings.ZOO_SETTINGS`).
        recipe_layer: what the family's published recipe sets, with the source of each value
            (its `net` is the default network); `recipe` is every key with the family's value.
        demo_preset: what the short run on the built-in demo dataset changes in the recipe.
        training_presets: per variant, training settings beyond its published preprocessing
            (e.g. the DropBlock of the large ResNeSts).
        configs_dir: the model folder's `configs/`, the recipe files that `--config NAME` finds.
    """
    registry: Registry
    settings: Mapping[str, Setting]
    recipe_layer: Layer
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
    def recipe(self) -> EasyDict:
        """Every key with the family's value: the zoo's defaults with the family recipe applied."""
        return resolve(self.settings, [self.recipe_layer]).values

    @property
    def default_net(self) -> str:
        """The variant a command uses when no `--net` is given."""
        return self.recipe_layer.values['net']

    def keys_read_by(self, command: str) -> List[str]:
        """The keys that `command` ('train' or 'eval') reads: what its `--help` lists."""
        return [name for name, setting in self.settings.items() if getattr(setting, command)]

    def preprocessing(self, net: str) -> PretrainedConfig:
        """The published weights and eval preprocessing of variant `net`."""
        return self.registry.variant(net).pretrained

    def preset_layers(self, net: str, demo: bool) -> List[Layer]:
        """The family recipe, the network's published preprocessing and training preset and, for a run without
        a dataset, the demo preset."""
        preprocessing = preprocessing_settings(self.preprocessing(net))
        layers = [self.recipe_layer, Layer(f'{net} published preprocessing', preprocessing),
                  Layer(f'{net} training preset', dict(self.training_presets.get(net, {})))]
        return layers + ([Layer('demo preset, no --data_dir', dict(self.demo_preset))] if demo else [])

    def resolve_config(self, argv: Optional[List[str]] = None, description: Optional[str] = None,
                       listed_keys: Optional[Collection[str]] = None,
                       run_layer: Optional[Layer] = None) -> ResolvedConfig:
        """The effective config of a run and the layer that set each key: the zoo's defaults <- the family
        recipe <- the network preset <- the demo preset (no dataset) <- the --config file <- `run_layer` (what
        a checkpoint's run decides, for the commands that use a checkpoint) <- the flags.

        `description` and `listed_keys` are the command's `--help` text and the keys it lists (default: all).
        `--print_config` prints the result and exits (status 0), as `--help` does.
        """
        argv = sys.argv[1:] if argv is None else argv
        explicit = [layer for layer in (config_file_layer(argv, self.configs_dir), run_layer) if layer]
        # `--help` shows the values of a run on a dataset with the network of the command line.
        net = flag_value(argv, 'net') or self._explicit(explicit, 'net') or self.default_net
        shown = resolve(self.settings, self._layers(str(net), False, explicit))
        command_line = parse_flags(argv, self.settings, shown, description=description, listed_keys=listed_keys)
        explicit.append(Layer(FLAGS_LAYER, command_line.flags))
        net, data_dir = (self._explicit(explicit, key) for key in ('net', 'data_dir'))
        resolved = resolve(self.settings, self._layers(str(net or self.default_net), not data_dir, explicit))
        if command_line.print_config:
            print(resolved.table())
            raise SystemExit(0)
        return resolved

    def get_config(self, argv: Optional[List[str]] = None, description: Optional[str] = None,
                   listed_keys: Optional[Collection[str]] = None, run_layer: Optional[Layer] = None) -> EasyDict:
        """The effective config of a run (`resolve_config` without the layers)."""
        return self.resolve_config(argv, description, listed_keys, run_layer).values

    def _layers(self, net: str, demo: bool, explicit: List[Layer]) -> List[Layer]:
        return self.preset_layers(net, demo) + explicit

    @staticmethod
    def _explicit(layers: List[Layer], key: str) -> Any:
        """The value of `key` in the last of `layers` that sets it, or None."""
        values = [layer.values[key] for layer in layers if key in layer.values]
        return values[-1] if values else None
