"""Weight files: reading reference (PyTorch, safetensors) and MindSpore files, renaming and checking them
against a network, telling a variant from its shapes, pretrained loading and conversion."""
