"""The data sources Grafana is provisioned with: fixed uids, so that every panel,
variable and link names them the same way on every install."""

PROMETHEUS_UID = "prometheus"
ALERTMANAGER_UID = "alertmanager"
LOKI_UID = "loki"

PROMETHEUS = {"type": "prometheus", "uid": PROMETHEUS_UID}
ALERTMANAGER = {"type": "alertmanager", "uid": ALERTMANAGER_UID}
LOKI = {"type": "loki", "uid": LOKI_UID}
GRAFANA = {"type": "grafana", "uid": "-- Grafana --"}     # Grafana's built-in source (annotations)
