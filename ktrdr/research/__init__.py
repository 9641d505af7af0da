"""Research: evaluation windows and the statistics that say whether a found edge is real."""
