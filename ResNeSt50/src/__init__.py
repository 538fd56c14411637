"""ResNeSt50 model folder: networks, recipes."""
