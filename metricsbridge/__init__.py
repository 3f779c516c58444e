"""metricsbridge: sandbox exporter metrics -> the kubelet/cAdvisor shape."""
