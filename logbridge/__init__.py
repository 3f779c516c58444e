"""logbridge: provider log records -> the DaemonSet collector's documents."""
