"""Read-only views for the dashboard: volumes, open orders, watcher positions, order search
and timelines. Queries only; nothing here writes or asks a node."""
