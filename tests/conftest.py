"""Shared test set-up: MindSpore on the CPU in PyNative mode, and the fixtures every test file may use.

Helpers (the repository root, reference packages, the reference networks) are in the `helpers` package.
"""
import mindspore as ms
import pytest

from helpers import run_script as run_script_in_subprocess

ms.set_device('CPU')
ms.set_context(mode=ms.PYNATIVE_MODE)

# Cases that the fast tier (`pytest -m "not slow"`, 5 minutes at most on 2 cores) leaves to the full suite.
# Each is a larger network, or another mode, of a test whose faster cases stay in the fast tier and check
# the same code: the fast tier covers every module, the full suite (CI) every case.
FULL_SUITE_ONLY = (
    'tests/test_parity.py::test_training_gradients_of_every_block_match_the_reference[resnest50-<lambda>-graph]',
    'tests/test_parity.py::test_training_gradients_of_every_block_match_the_reference[resnest50-<lambda>-pynative]',
    'tests/test_parity.py::test_training_gradients_of_every_block_match_the_reference'
    '[resnest50d_4s2x40d-<lambda>-graph]',
    'tests/test_parity.py::test_training_gradients_of_every_block_match_the_reference'
    '[resnest50d_4s2x40d-<lambda>-pynative]',
    'tests/test_parity.py::test_training_gradients_of_the_whole_network_match_the_reference[graph]',
    'tests/test_networks.py::test_split_attention_backward_equals_autodiff_in_fp32_and_mixed_precision[O2-0.01]',
    'tests/test_networks.py::test_parameter_count_equals_the_reference[resnest269-110929480]',
    'tests/test_convert.py::test_a_converted_reference_file_gives_the_references_logits[resnest269.pth]',
    'tests/test_convert.py::test_a_converted_reference_file_gives_the_references_logits[resnest200.pth]',
    'tests/test_convert.py::test_a_converted_reference_file_gives_the_references_logits[resnest101.pth]',
    'tests/test_convert.py::test_a_converted_reference_file_gives_the_references_logits[resnext101_32x8d.pth]',
    'tests/test_convert.py::test_a_converted_reference_file_gives_the_references_logits'
    '[resnext101_64x4d.safetensors]',
    'tests/test_preprocessing_fidelity.py::test_exported_model_gives_the_references_top5_on_photographs'
    '[resnest50d_1s4x24d]',
    'tests/test_preprocessing_fidelity.py::test_exported_model_gives_the_references_top5_on_photographs'
    '[resnext50_32x4d]',
    'tests/test_recompute.py::test_recomputing_gives_the_gradients_of_keeping_the_activations[block-resnext50_32x4d]',
    'tests/test_recompute.py::test_recomputing_gives_the_gradients_of_keeping_the_activations[stage-resnext50_32x4d]',
    'tests/test_recompute.py::test_recomputing_gives_the_gradients_of_keeping_the_activations[block-resnest14d]',
    'tests/test_export.py::test_export_cli_exports_a_training_checkpoint_to_onnx',
    'tests/test_export.py::test_export_cli_input_dtype_uint8_exports_a_model_that_takes_pixels',
    'tests/test_run_settings.py::test_export_needs_only_the_checkpoint',
    'tests/test_run_settings.py::test_eval_needs_only_the_checkpoint',
    'tests/test_eval_preprocessing_benchmark.py::test_with_a_network_every_pass_gives_the_whole_loop_and_the_network_alone',
    'tests/test_preprocessing_fidelity.py::test_eval_of_published_weights_counts_the_references_top1_top5_on_photographs',
    'tests/test_mixing.py::test_the_train_step_mixes_bit_equal_to_the_host_mixing_for_the_same_draws[cutmix-alphas1]',
    'tests/test_export.py::test_mindir_export_reproduces_the_network[resnext50_32x4d]',
    'tests/test_networks.py::test_parameter_count_equals_the_reference[resnext101_32x8d-88791336]',
    'tests/test_networks.py::test_parameter_count_equals_the_reference[resnext101_64x4d-83455272]',
    'tests/test_networks.py::test_parameter_count_equals_the_reference[resnest200-70201544]',
    'tests/test_export.py::test_dynamic_batch_mindir_runs_at_two_batch_sizes[resnext50_32x4d]',
    'tests/test_export.py::test_onnx_export_matches_the_network_in_onnxruntime[resnext50_32x4d]',
    'tests/test_parity.py::test_resnest_matches_timm_at_odd_map_sizes[resnest50d_4s2x40d-resnest50d_4s2x40d]',
    'tests/test_parity.py::test_training_gradients_of_every_block_match_the_reference[resnext50_32x4d-<lambda>-pynative]',
    'tests/test_convert.py::test_a_converted_reference_file_gives_the_references_logits'
    '[resnest50d_4s2x40d.safetensors]',
)


def pytest_collection_modifyitems(config, items):
    """Mark the `FULL_SUITE_ONLY` cases slow; a name there that matches no test is an error."""
    wanted = set(FULL_SUITE_ONLY)
    for item in items:
        if item.nodeid in wanted:
            item.add_marker(pytest.mark.slow)
            wanted.discard(item.nodeid)
    whole_suite = config.args in ([], ['tests'], [str(config.rootpath / 'tests')])
    if wanted and whole_suite and not config.getoption('keyword'):
        raise pytest.UsageError(f"FULL_SUITE_ONLY names tests that do not exist: {sorted(wanted)}")


@pytest.fixture
def run_script(tmp_path):
    """The one way a test runs a script: `run_script(script, *args, cwd=..., env=..., ...)` in a subprocess
    (`helpers.run_script`), in the test's temporary folder unless `cwd` is given."""
    def run(script, *args, cwd=None, **options):
        return run_script_in_subprocess(script, *args, cwd=cwd or tmp_path, **options)
    return run


def pytest_unconfigure(config):
    """At the end of a session (each xdist worker's too): MindSpore's `Cell.__del__` reads its module's
    globals, which interpreter shutdown clears first, and printed an ignored AttributeError for every Cell
    still alive (1,343 tracebacks after the last test of a CI run, above its summary). The process is
    exiting: nothing is left for it to release."""
    ms.nn.Cell.__del__ = lambda self: None
