"""The domain: configuration, database, models, orders, payments and the watcher. No Flask."""
