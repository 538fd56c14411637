"""Checkpoints load whatever the page cache holds: the zoo's one .ckpt reader counts MemAvailable, where
MindSpore 2.10's load_checkpoint counts MemFree (zoo_core.runtime.compat, zoo_core.weights.files)."""
import os

import mindspore as ms
import mindspore.train.serialization as serialization
import numpy as np
import pytest

from zoo_core.runtime import compat
from zoo_core.weights.checkpoint import CheckpointError, read_checkpoint
from zoo_core.weights.files import CheckpointMemoryError, load_mindspore_checkpoint, read_mindspore_weights

TENSOR_SHAPE = (256, 1024)  # 1 MB of float32: a checkpoint of about 1 MB


@pytest.fixture
def checkpoint(tmp_path):
    path = tmp_path / 'weights.ckpt'
    ms.save_checkpoint([{'name': 'fc.weight', 'data': ms.Tensor(np.ones(TENSOR_SHAPE, np.float32))}], str(path))
    return path


@pytest.fixture
def little_free_memory(monkeypatch):
    """MemFree (what MindSpore reads through SC_AVPHYS_PAGES) far below the checkpoint's size, as on a
    server whose page cache is full; MemAvailable stays the machine's."""
    real_sysconf = os.sysconf

    def sysconf(name):
        return 16 if name == 'SC_AVPHYS_PAGES' else real_sysconf(name)

    monkeypatch.setattr(os, 'sysconf', sysconf)


def fake_meminfo(tmp_path, monkeypatch, available_kib):
    path = tmp_path / 'meminfo'
    path.write_text(f"MemTotal:       24000000 kB\nMemFree:           64 kB\nMemAvailable:   {available_kib} kB\n")
    monkeypatch.setattr(compat, 'MEMINFO_PATH', str(path))


def test_mem_available_is_read_from_meminfo_in_bytes(tmp_path, monkeypatch):
    fake_meminfo(tmp_path, monkeypatch, 2048)
    assert compat.available_memory_bytes() == 2048 * 1024
    assert compat.available_memory_bytes(str(tmp_path / 'missing')) is None


needs_free_memory_check = pytest.mark.skipif(not hasattr(serialization, '_get_available_memory'),
                                             reason="this MindSpore's load_checkpoint does not check free memory")


@needs_free_memory_check
def test_mindspore_alone_refuses_a_checkpoint_larger_than_free_memory(checkpoint, little_free_memory):
    """The premise: without the zoo's reader the same file does not load."""
    with pytest.raises(Exception, match='exceeds current available memory'):
        ms.load_checkpoint(str(checkpoint))


def test_the_zoo_reader_loads_it_when_mem_available_is_enough(checkpoint, little_free_memory):
    params = load_mindspore_checkpoint(checkpoint)
    np.testing.assert_array_equal(params['fc.weight'].asnumpy(), np.ones(TENSOR_SHAPE, np.float32))
    assert read_mindspore_weights(checkpoint)['fc.weight'].shape == TENSOR_SHAPE
    assert 'fc.weight' in read_checkpoint(str(checkpoint))


@needs_free_memory_check
def test_mindspore_s_own_measure_is_restored_after_a_read(checkpoint, little_free_memory):
    load_mindspore_checkpoint(checkpoint)
    with pytest.raises(Exception, match='exceeds current available memory'):
        ms.load_checkpoint(str(checkpoint))


def test_a_real_shortage_names_mem_available_and_the_file_size(checkpoint, tmp_path, monkeypatch):
    fake_meminfo(tmp_path, monkeypatch, 100)
    with pytest.raises(CheckpointMemoryError, match=r'is 1 MB but the system has only 0 MB available \(MemAvailable'):
        load_mindspore_checkpoint(checkpoint)
    with pytest.raises(CheckpointError):  # the reader of eval, export and resume: one line, no traceback
        read_checkpoint(str(checkpoint))
