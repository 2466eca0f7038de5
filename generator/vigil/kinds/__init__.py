"""One module per service kind: what Vigil knows about watching it.

Each module has NAME, FIELDS (which service fields it takes), ALERTS (its
overridable alerts and their defaults), dashboard(service) and plan(service, ctx).
"""

from . import host, http, job, mysql, nginx, postgres, probe, redis

KINDS = {m.NAME: m for m in (http, job, postgres, mysql, redis, nginx, host, probe)}

# Every alertname Vigil renders itself (a test checks this against the plans);
# the inventory's own rules may not take them.
BUILTIN_ALERTNAMES = frozenset({
    "ServiceDown", "HealthCheckFailing", "HighErrorRate", "HighLatency",
    "HostHighCpu", "HostMemoryPressure", "HostDiskFull", "HostDiskWillFill",
    "ProbeSlow", "CertificateExpiresSoon", "Watchdog",
    "PrometheusConfigReloadFailed", "PrometheusRuleEvaluationFailing", "PrometheusNotificationsFailing",
    "PrometheusAlertmanagerMissing", "PrometheusStorageFilling",
    "AlertmanagerConfigReloadFailed", "AlertmanagerNotificationsFailing",
    "ErrorLogSpike",    # Loki ruler (logs.py, render/loki.py)
})
