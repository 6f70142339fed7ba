"""The Flask room: ``app.create_app`` wires the API, the checkout page and their helpers."""
