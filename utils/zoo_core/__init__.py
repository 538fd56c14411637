"""Shared engine of the ResNeSt/ResNeXt zoo: layers, backbone, training, evaluation, conversion.

Importing it caps oneDNN's instruction set at AVX2 before MindSpore's CPU backend creates a primitive
(`zoo_core.runtime.isa`: 3x3 convolutions are about 100x slower uncapped on AVX-512 CPUs; a user's own
`ONEDNN_MAX_CPU_ISA` wins), and prints one line on a MindSpore release outside the tested range
(`zoo_core.runtime.versions`). Neither imports MindSpore.
"""
from zoo_core.runtime.isa import cap_isa
from zoo_core.runtime.versions import announce_untested_mindspore

cap_isa()
announce_untested_mindspore()
