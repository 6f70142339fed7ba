"""Entry point for WSGI servers: ``gunicorn wsgi:app`` or ``flask --app wsgi run``."""

from gateway.web.app import create_app

app = create_app()
