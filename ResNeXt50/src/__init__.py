"""ResNeXt50 model folder: networks, recipes."""
