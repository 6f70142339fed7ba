"""The USDT payment gateway.

Three rooms: ``gateway.core`` (the domain: models, orders, payments, the watcher; no
Flask), ``gateway.web`` (the Flask app: API, checkout page) and ``gateway.cli`` (the
``gateway`` command and its processes). Importing this package loads none of them.
"""
