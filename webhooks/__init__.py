"""Outgoing events: signing, the outbox dispatcher, RQ delivery jobs and the retry schedule.

This package knows events, not orders, and runs without Flask: the worker builds its
own engine from the configuration.
"""
