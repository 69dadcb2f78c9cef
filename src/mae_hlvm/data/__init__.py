"""Data with known structure and real images.

- ``vectors``: vector samples of a hierarchical latent variable model on a networkx DiGraph, with
  every latent and noise returned (ground truth for identifiability checks).
- ``shapes``: procedurally rendered hierarchical images (the book's default image dataset) and their
  robustness / cue-conflict variants, with factors, masks and boxes.
- ``fashion_mnist``: Fashion-MNIST from its IDX files (Debian package ``dataset-fashion-mnist``).
- ``pretraining``: the named image sources of pretraining (``shapes[:N]``, ``fashion_mnist[:N]``, files, folders).
- ``errors``: :class:`DataError`, raised for data that cannot be used (unreadable, wrong dtype, range or shape).
- ``folders``: loaders for ImageNet, ImageNet-v2/-R/-A/-Sketch, ObjectNet and the cue-conflict stimuli.
"""
from mae_hlvm.data.errors import DataError
from mae_hlvm.data.fashion_mnist import load_fashion_mnist, read_idx
from mae_hlvm.data.pretraining import fashion_mnist_images, pretraining_data, pretraining_images
from mae_hlvm.data.shapes import ShapesBatch, ShapesDataset, render_shapes, shapes_hierarchy
from mae_hlvm.data.vectors import HierarchicalVectorModel, VectorSample, sample_hierarchy

__all__ = [
    "DataError", "HierarchicalVectorModel", "ShapesBatch", "ShapesDataset", "VectorSample", "load_fashion_mnist",
    "fashion_mnist_images", "pretraining_data", "pretraining_images", "read_idx", "render_shapes", "sample_hierarchy", "shapes_hierarchy",
]
