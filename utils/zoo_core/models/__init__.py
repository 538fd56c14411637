"""Network building blocks: PyTorch-exact layers, the configurable ResNet backbone, the variant registry
and the model-family object that each model folder defines."""
