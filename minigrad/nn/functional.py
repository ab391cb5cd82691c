"""Losses and activations as functions of tensors (PyTorch names)."""
