"""``gradflow.bench``: the seed lectures' experiments as library functions (``lr``: learning
rate vs the Hessian's top eigenvalue). They write reports and figures; they are not timings."""
