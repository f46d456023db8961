"""Algorithms on top of the collectives (PyTorch's ``torch.distributed.algorithms``)."""
