"""Strategy designers (built-in offline, optional LLM) and the rule-based assessment."""
