"""The research agent: phase machine, worker, designers and assessment."""
