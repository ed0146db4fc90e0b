"""Differentiable operations: Functions wiring kernels into the graph, one family per file."""
