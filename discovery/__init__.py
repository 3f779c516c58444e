"""discovery: publishes each virtual-node pod's exporter as a Prometheus target."""
