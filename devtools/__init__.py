"""Developer tooling (the anvil devnet, the test token): used by tests, the demo and the
benchmarks from a source checkout; never installed with the package."""
