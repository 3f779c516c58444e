"""A deterministic cluster simulator for the demo and the integration tests."""
