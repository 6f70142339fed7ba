"""Test helpers that stand in for the network between the gateway and its nodes."""
