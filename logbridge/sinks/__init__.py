"""Why: one module per sink over one contract (contract.py: the Documents a sink
receives, the Sink protocol, the rejections it returns, retrying with capped backoff and
the failures that stop the service), as Vector gives each sink its own folder. A sink
never commits: the pipeline commits after every sink acknowledged."""
