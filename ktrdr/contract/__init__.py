"""The wire contract: what the backend answers and the client reads, typed once.

The API serves these models and the client parses them; neither owns them, so the client
never imports the server package. Request models stay with the API (the client sends plain
mappings built from its options).
"""
