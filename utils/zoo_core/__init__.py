"""Shared engine of the ResNeSt/ResNeXt zoo: layers, backbone, training, evaluation, conversion."""
