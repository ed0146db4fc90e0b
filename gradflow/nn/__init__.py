"""Neural-network modules."""
from gradflow.nn.parameter import Parameter

__all__ = ["Parameter"]
