"""Shared engine of the ResNeSt/ResNeXt zoo: layers, backbone, training, evaluation, conversion."""
import os

# On this generation of CPUs, oneDNN (MindSpore 2.10's CPU backend) dispatches fp32 NCHW 3x3
# convolutions to its AVX-512 "ncsp" wrapper, which falls back to the reference kernel: about 100x
# slower than the JIT GEMM kernels it selects when the ISA is capped at AVX2 (measured 0.16 vs 26
# GFLOP/s on a 32x128x16x16 conv). The cap only matters for the CPU backend; a user's own setting wins.
os.environ.setdefault('ONEDNN_MAX_CPU_ISA', 'AVX2')

# Before any command parses its arguments: one line on a MindSpore release outside the tested range.
from zoo_core.runtime.versions import announce_untested_mindspore  # noqa: E402  (after the cap, by design)

announce_untested_mindspore()
