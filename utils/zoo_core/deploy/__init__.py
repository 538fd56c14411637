"""Deployment: export to MINDIR/ONNX/AIR, offline inference on the CPU and scoring of inference results."""
