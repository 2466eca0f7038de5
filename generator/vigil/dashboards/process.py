"""Saturation of any scraped process from the `process_*` metrics every Prometheus client
library exports (Go, Python, Java, Node, Ruby…): CPU, resident memory, and open file
descriptors against their limit — the same for a service in Compose or on a VM. Containers
add cAdvisor's view where there is one (containers.saturation)."""

from __future__ import annotations

from .builder import Target, Thresholds, timeseries

MISSING = "No process_* metrics: its client library exports none, or its process collector is off"
# Running out of file descriptors refuses connections: orange at 80% of the limit, red at 95%.
FD_THRESHOLDS = Thresholds.rising(0.8, 0.95)


def saturation(matchers: str) -> tuple:
    """Per instance: CPU cores, resident memory, open fds as a share of the process' limit."""
    sel = f"{{{matchers}}}"
    return (
        timeseries("Process CPU", Target(f"sum by (instance) (rate(process_cpu_seconds_total{sel}"
                                         f"[$__rate_interval]))", "{{instance}}"),
                   unit="short", min=0, no_value=MISSING, width=8,
                   description="CPU cores used by each instance's process (process_cpu_seconds_total)"),
        timeseries("Process memory (resident)", Target(f"max by (instance) (process_resident_memory_bytes{sel})",
                                                       "{{instance}}"),
                   unit="bytes", min=0, no_value=MISSING, width=8,
                   description="Resident set size of each instance's process"),
        timeseries("Open file descriptors (of the limit)", Target(
            f"max by (instance) (process_open_fds{sel} / process_max_fds{sel})", "{{instance}}"),
            unit="percentunit", min=0, max=1, thresholds=FD_THRESHOLDS, no_value=MISSING, width=8,
            description="process_open_fds / process_max_fds: at 100% the process refuses new connections"),
    )
