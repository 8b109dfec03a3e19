"""Low-rank training as the papers do it: real training on the calibrated kernels, ranks from the data.

Modules: :mod:`~simtrain.lowrank.data` (the generated digits), :mod:`~simtrain.lowrank.nets` (the two models and
their GEMM backends), :mod:`~simtrain.lowrank.train` (data-parallel training with the schemes),
:mod:`~simtrain.lowrank.ranks` (Cuttlefish, OIALR, AB-training and ALDS rank rules) and
:mod:`~simtrain.lowrank.compute` (factorised layers priced as their factor GEMMs).
"""
