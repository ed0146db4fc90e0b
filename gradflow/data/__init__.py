"""Data (PyTorch's ``torch.utils.data``, also importable as ``gradflow.utils.data``): datasets,
samplers, the DataLoader and collation, plus built-in sets and augmentation."""

from gradflow.data import datasets, transforms
from gradflow.data.collate import default_collate, default_convert
from gradflow.data.dataset import (
    ChainDataset,
    ConcatDataset,
    Dataset,
    IterableDataset,
    StackDataset,
    Subset,
    TensorDataset,
    random_split,
)
from gradflow.data.loader import DataLoader
from gradflow.data.prepare import ClassificationData, holdout_split, load_classification
from gradflow.data.sampler import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)
from gradflow.data.worker import WorkerInfo, get_worker_info

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "StackDataset", "ConcatDataset",
           "ChainDataset", "Subset", "random_split", "Sampler", "SequentialSampler",
           "RandomSampler", "SubsetRandomSampler", "WeightedRandomSampler", "BatchSampler",
           "DataLoader", "default_collate", "default_convert", "get_worker_info", "WorkerInfo",
           "datasets", "transforms", "holdout_split", "load_classification", "ClassificationData"]

import gradflow.utils  # noqa: E402, F401 (makes gf.utils.data this module; see gradflow/utils)
