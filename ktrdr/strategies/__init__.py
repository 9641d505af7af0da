"""Strategy definitions: what to compute, how to label, how to train and how to trade."""
