"""Workers that drive long jobs (the research cycle)."""
