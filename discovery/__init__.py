"""discovery: the pod inventory (shared) and Prometheus target publishing."""

from discovery.inventory import ContainerInfo, Inventory, Lookup, MemoryInventory, OwnerRef, PodInfo

__all__ = ["ContainerInfo", "Inventory", "Lookup", "MemoryInventory", "OwnerRef", "PodInfo"]
