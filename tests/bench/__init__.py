"""``make bench``: measured figures, printed and written to .bench/results.json.

Why: speed is measured, never asserted in a test; each section here is one question a
team adopting vnbridge asks, answered with a figure and the method beside it
(docs/performance.md). Sections (``make bench BENCH=<name>``, several allowed):

* transform — records per CPU-second through the core, per profile (transform.py);
* hostile — ns per input byte on adversarial records (hostile.py);
* metrics — the sandbox-metrics translation (metrics.py);
* discovery — a 10,000-pod inventory and a pod burst (discovery.py, inventory.py);
* pipeline — Kafka→Kafka and Kafka→Elasticsearch end to end, rsyslog beside (pipeline.py);
* cronjob — a day of 10,000 CronJobs through discovery and the inventory (cronjob.py);
* peers — the same million records through logbridge, Vector, the OpenTelemetry
  Collector and Filebeat into one Elasticsearch (peers.py).

The discovery, pipeline and peers sections need the local stack (make bench starts it).
"""
