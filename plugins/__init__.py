"""Chain drivers for the gateway, found through the ``gateway.chains`` entry points."""
