"""Differential tests: ember replayed against PyTorch's recorded behaviour.

``cases.py`` builds the cases, ``record_pytorch.py`` records PyTorch's outcomes into
``pytorch_2_13.npz`` (run by hand, see its docstring), ``replay.py`` replays them on an
ember device, and ``tests/test_differential.py`` runs the replay on every device.
"""
