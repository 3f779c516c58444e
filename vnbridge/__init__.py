"""vnbridge: the shared kernel the three services stand on.

Settings loading and errors, the CLI kit, the HTTP server with auth and TLS, client
settings, the Kubernetes reflector and live watch, the pod inventory (pods, nodes,
namespaces, tombstones) and the one virtual-exporter rule. It imports none of
discovery, logbridge or metricsbridge (an import-linter contract).
"""

from importlib.metadata import PackageNotFoundError, version

__all__ = ["package_version"]


def package_version() -> str:
    """The installed vnbridge version (``0+unknown`` when run from an uninstalled tree)."""
    try:
        return version("vnbridge")
    except PackageNotFoundError:
        return "0+unknown"
