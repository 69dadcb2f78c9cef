"""mae_hlvm: the library behind the replication book of Kong et al., CVPR 2023.

Subpackages, by concept:

- ``mae_hlvm.hierarchy``  the theory: hierarchical latent graphs, Algorithms 1 and 2, masks
- ``mae_hlvm.data``       hierarchical synthetic data, Fashion-MNIST, real-dataset loaders
- ``mae_hlvm.mae``        the MAE model, masking, pretraining, checkpoints
- ``mae_hlvm.eval``       reconstruction metrics, attention, t-SNE, probes, robustness, shape bias
- ``mae_hlvm.experiments`` one ``run(params)`` per computation of the book, the run cache, records
- ``mae_hlvm.book``       the runner that executes the book's chapters with papermill

Imports point down: book -> experiments -> mae, eval -> data -> hierarchy, and every layer may use
the plain helpers ``atomic`` (atomic writes), ``compute`` (devices, threads) and ``reproducibility``
(seeds, environment report). ``tests/test_project.py`` checks it.
"""
__version__ = "0.1.0"
