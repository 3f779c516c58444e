"""Generate vnbridge's Grafana dashboards from code (grafana-foundation-sdk).

Why: dashboards as code are reviewed like code and cannot drift from the metrics
they read; ``make dashboards`` rewrites the committed JSON, and a unit test fails
when the JSON is stale. Every query here is also run against the real Prometheus in
the integration tests and must return data.

Run: ``python grafana/generate.py`` (writes grafana/*.json).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from grafana_foundation_sdk.builders.dashboard import Dashboard, DatasourceVariable, QueryVariable, Row
from grafana_foundation_sdk.builders.prometheus import Dataquery
from grafana_foundation_sdk.builders.timeseries import Panel as Timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import DataSourceRef, VariableHide, VariableRefresh, VariableSort

HERE = Path(__file__).resolve().parent
CADVISOR = 'job="kubelet", metrics_path="/metrics/cadvisor"'
# Every query reads the data source and the cluster picked at the top, as kube-prometheus's
# dashboards do. A single-cluster Prometheus has no cluster label: the variable is then
# empty, and cluster="" matches every series.
PROMETHEUS = DataSourceRef(type_val="prometheus", uid="${datasource}")
CLUSTER = 'cluster="$cluster"'
_SELECTOR = re.compile(r"([A-Za-z_:][A-Za-z0-9_:]*)\{([^}]*)\}")


def with_cluster(expr: str) -> str:
    """Add the cluster matcher to every selector; queries write each metric with braces
    (``up{}``), so none can be missed (tests/unit/test_dashboards.py checks it)."""
    return _SELECTOR.sub(lambda m: f"{m[1]}{{{', '.join(x for x in (CLUSTER, m[2]) if x)}}}", expr)


def panel(title: str, unit: str, *queries: tuple[str, str]) -> Timeseries:
    p = Timeseries().title(title).unit(unit).min(0).height(8).span(12).datasource(PROMETHEUS)
    for expr, legend in queries:
        p = p.with_target(Dataquery().expr(with_cluster(expr)).legend_format(legend).datasource(PROMETHEUS))
    return p


def _dashboard(title: str, uid: str) -> Dashboard:
    return (
        Dashboard(title)
        .uid(uid)
        .tags(["vnbridge", "generated"])
        .refresh("30s")
        .time("now-1h", "now")
        .with_variable(DatasourceVariable("datasource").label("Data source").type("prometheus"))
        .with_variable(
            QueryVariable("cluster")
            .label("cluster")
            .datasource(PROMETHEUS)
            .query("label_values(vnbridge_build_info, cluster)")
            .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
            .sort(VariableSort.ALPHABETICAL_ASC)
            .hide(VariableHide.DONT_HIDE)
        )
    )


def parity() -> Dashboard:
    return (
        _dashboard("vnbridge / Parity", "vnbridge-parity")
        .with_row(Row("Metrics: virtual-node pods next to standard pods"))
        .with_panel(
            panel(
                "Pods with cAdvisor memory series, by node",
                "short",
                (
                    f"count by (node) (count by (node, namespace, pod) "
                    f'(container_memory_working_set_bytes{{{CADVISOR}, image!=""}}))',
                    "{{node}}",
                ),
            )
        )
        .with_panel(
            panel(
                "Pod CPU (kube-prometheus rule), by node",
                "cores",
                (
                    "sum by (node) "
                    "(node_namespace_pod_container:container_cpu_usage_seconds_total:sum_rate5m{})",
                    "{{node}}",
                ),
            )
        )
        .with_panel(
            panel(
                "Virtual-pod targets: published vs scraped up",
                "short",
                ("sum(vnbridge_discovery_targets{})", "published by discovery"),
                (f'sum(up{{{CADVISOR}, pod!=""}})', "scraped up through metricsbridge"),
            )
        )
        .with_row(Row("Logs: virtual-node pods through logbridge"))
        .with_panel(
            panel(
                "Documents delivered per second, by sink",
                "short",
                (
                    "sum by (sink) (rate(vnbridge_logbridge_documents_delivered_total{}[$__rate_interval]))",
                    "{{sink}}",
                ),
            )
        )
        .with_panel(
            panel(
                "Where pod metadata came from",
                "short",
                ("sum by (result) (vnbridge_logbridge_inventory_lookups_total{})", "{{result}}"),
            )
        )
        .with_panel(
            panel(
                "Consumer lag, by topic",
                "short",
                ("sum by (topic) (vnbridge_logbridge_consumer_lag{})", "{{topic}}"),
            )
        )
    )


def health() -> Dashboard:
    return (
        _dashboard("vnbridge / Bridge health", "vnbridge-health")
        .with_row(Row("discovery"))
        .with_panel(
            panel(
                "Inventory",
                "short",
                ("sum(vnbridge_discovery_pods{})", "live pods"),
                ("sum(vnbridge_discovery_tombstones{})", "tombstones"),
                ("min(vnbridge_discovery_ready{})", "ready"),
            )
        )
        .with_panel(
            panel(
                "http_sd requests and watch errors per second",
                "reqps",
                (
                    "sum by (code) (rate(vnbridge_discovery_http_sd_requests_total{}[$__rate_interval]))",
                    "http {{code}}",
                ),
                (
                    "sum(rate(vnbridge_discovery_watch_errors_total{}[$__rate_interval])) or vector(0)",
                    "watch errors",
                ),
            )
        )
        .with_row(Row("metricsbridge"))
        .with_panel(
            panel(
                "Probes per second, by result",
                "reqps",
                (
                    "sum by (result) (rate(vnbridge_metricsbridge_probes_total{}[$__rate_interval]))",
                    "{{result}}",
                ),
            )
        )
        .with_panel(
            panel(
                "Translation time (p50, p99)",
                "s",
                (
                    "histogram_quantile(0.5, sum by (le) "
                    "(rate(vnbridge_metricsbridge_translate_seconds_bucket{}[$__rate_interval])))",
                    "p50",
                ),
                (
                    "histogram_quantile(0.99, sum by (le) "
                    "(rate(vnbridge_metricsbridge_translate_seconds_bucket{}[$__rate_interval])))",
                    "p99",
                ),
            )
        )
        .with_row(Row("logbridge"))
        .with_panel(
            panel(
                "Records in, dead-lettered and filtered per second",
                "short",
                ("sum(rate(vnbridge_logbridge_records_in_total{}[$__rate_interval]))", "in"),
                (
                    "sum by (reason) "
                    "(rate(vnbridge_logbridge_records_dead_lettered_total{}[$__rate_interval])) or vector(0)",
                    "dead-lettered {{reason}}",
                ),
                (
                    "sum(rate(vnbridge_logbridge_records_filtered_total{}[$__rate_interval])) or vector(0)",
                    "filtered",
                ),
            )
        )
        .with_panel(
            panel(
                "Delivery: batch time p99, degraded, in-flight bytes",
                "short",
                (
                    "histogram_quantile(0.99, sum by (le) "
                    "(rate(vnbridge_logbridge_batch_seconds_bucket{}[5m])))",
                    "batch p99 (s)",
                ),
                ("max(vnbridge_logbridge_degraded{})", "degraded"),
                ("sum(vnbridge_logbridge_in_flight_bytes{})", "in-flight bytes"),
            )
        )
        .with_panel(
            panel(
                "Backlog: records behind, consume rate, time to catch up",
                "short",
                ("sum(vnbridge_logbridge_backlog_records{})", "records behind"),
                ("sum(vnbridge_logbridge_consume_rate{})", "records/s"),
                ("max(vnbridge_logbridge_catchup_eta_seconds{})", "seconds to catch up"),
            )
        )
    )


DASHBOARDS = {"vnbridge-parity.json": parity, "vnbridge-health.json": health}


def render() -> dict[str, str]:
    encoder = JSONEncoder(sort_keys=True, indent=2)
    return {name: encoder.encode(build().build()) + "\n" for name, build in DASHBOARDS.items()}


# the same JSON where Grafana's dashboard sidecar gets it: the chart's ConfigMaps
# (dashboards.enabled) and the kustomize component components/dashboards
COPIES = (
    HERE.parent / "deploy" / "helm" / "vnbridge" / "files" / "dashboards",
    HERE.parent / "deploy" / "kubernetes" / "components" / "dashboards",
)


def main() -> None:
    for name, text in render().items():
        (HERE / name).write_text(text)
        sys.stdout.write(f"wrote grafana/{name}\n")
        for d in COPIES:
            d.mkdir(parents=True, exist_ok=True)
            (d / name).write_text(text)


if __name__ == "__main__":
    main()
