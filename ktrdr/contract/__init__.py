"""The wire contract: what the backend answers and the client reads, typed once.

The API serves these models and the client parses them; neither owns them, so the client
never imports the server package. Requests go the same way in the other direction
(``requests.py``): the client builds them, the API validates bodies with them, and the
jobs layer takes them as they are.
"""
