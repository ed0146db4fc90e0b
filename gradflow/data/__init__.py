"""Data: datasets, the DataLoader (batch, minibatch, stochastic), built-in sets, augmentation."""

from gradflow.data import datasets, transforms
from gradflow.data.dataset import Dataset, Subset, TensorDataset, random_split
from gradflow.data.loader import DataLoader

__all__ = ["Dataset", "TensorDataset", "Subset", "random_split", "DataLoader", "datasets",
           "transforms"]
