"""The oneDNN ISA cap (zoo_core.runtime.isa): set before MindSpore's first convolution when the zoo is imported
first; when a user's convolution ran before it, one warning with the fix before the slow run starts."""
import os

import pytest

from zoo_core.runtime import isa

TRAP_SCRIPT = '''
import sys, numpy as np, mindspore as ms
from mindspore import nn
if sys.argv[1] == 'conv_first':
    nn.Conv2d(3, 8, 3)(ms.Tensor(np.ones((1, 3, 8, 8), np.float32)))  # the user's own layer, before the zoo
from zoo_resnest.models import get_network
get_network('resnest14d', num_classes=2)
get_network('resnest14d', num_classes=2)
print('built')
'''
needs_avx512 = pytest.mark.skipif(not isa.cpu_has_avx512() or isa.onednn_library() is None,
                                  reason='the reference-kernel trap needs an AVX-512 CPU and oneDNN 3 (MindSpore 2.10)')


def warnings_of(run_script, case, **variables):
    """The ISA warnings of TRAP_SCRIPT run as a user would: without the cap that this test process inherited
    from its own import of the zoo, plus `variables`."""
    env = {k: v for k, v in os.environ.items() if k != isa.ISA_VARIABLE}
    result = run_script('-c', TRAP_SCRIPT, case, env=dict(env, **variables))
    assert result.returncode == 0 and 'built' in result.stdout, result.stderr[-2000:]
    return [line for line in result.stderr.splitlines() if line.startswith('warning: MindSpore ran a convolution')]


@needs_avx512
def test_a_convolution_before_the_zoo_gets_one_warning_with_the_fix(run_script):
    [warning] = warnings_of(run_script, 'conv_first')  # once, though two networks are built
    assert isa.FIX in warning and 'slower' in warning


def test_mindspore_imported_first_without_a_convolution_gets_no_warning(run_script):
    assert warnings_of(run_script, 'mindspore_first') == []


def test_a_users_own_isa_choice_is_kept_and_never_warned_about(run_script):
    assert warnings_of(run_script, 'conv_first', ONEDNN_MAX_CPU_ISA='AVX2') == []


def test_avx512_is_read_from_the_cpu_flags(tmp_path):
    with_avx512, without = tmp_path / 'a', tmp_path / 'b'
    with_avx512.write_text('processor : 0\nflags : fpu sse avx2 avx512f avx512bw\n')
    without.write_text('processor : 0\nflags : fpu sse avx2\n')
    assert isa.cpu_has_avx512(str(with_avx512)) and not isa.cpu_has_avx512(str(without))
    assert not isa.cpu_has_avx512(str(tmp_path / 'missing'))
