"""The data sources Grafana is provisioned with: fixed uids, so that every panel,
variable and link names them the same way on every install."""

PROMETHEUS_UID = "prometheus"
ALERTMANAGER_UID = "alertmanager"
LOKI_UID = "loki"

# Panels name the Prometheus of the dashboard's `datasource` variable (the provisioned one
# unless the user picks another: a second Prometheus, a long-term store), as the mixins do.
DATASOURCE_VARIABLE = "datasource"
PROMETHEUS = {"type": "prometheus", "uid": f"${{{DATASOURCE_VARIABLE}}}"}
ALERTMANAGER = {"type": "alertmanager", "uid": ALERTMANAGER_UID}
LOKI = {"type": "loki", "uid": LOKI_UID}
GRAFANA = {"type": "grafana", "uid": "-- Grafana --"}     # Grafana's built-in source (annotations)
