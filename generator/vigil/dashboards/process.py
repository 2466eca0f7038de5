"""Saturation of any scraped process from the process metrics its metrics library exports
(presets.ProcessMetrics: every Prometheus client library's `process_*`, Micrometer's own names):
CPU, memory, and open file descriptors against their limit — the same for a service in Compose
or on a VM. Containers add cAdvisor's view where there is one (containers.saturation)."""

from __future__ import annotations

from ..presets import ANY_PROCESS, ProcessMetrics
from .builder import Target, Thresholds, timeseries

MISSING = "No process metrics: its library exports none Vigil knows, or its process collector is off"
# Running out of file descriptors refuses connections: orange at 80% of the limit, red at 95%.
FD_THRESHOLDS = Thresholds.rising(0.8, 0.95)
WINDOW = "[$__rate_interval]"


def saturation(matchers: str, libraries: tuple[ProcessMetrics, ...] = ANY_PROCESS) -> tuple:
    """Per instance: CPU cores, memory, open fds as a share of the process' limit, from the metrics
    of `libraries` (one expression each, `or`-ed: an instance shows the first it exports)."""
    sel = f"{{{matchers}}}"

    def expr(field: str) -> str:
        return " or ".join(getattr(m, field).format(sel=sel, window=WINDOW) for m in libraries)
    memory_of = " or ".join(m.memory_of for m in libraries)
    memory_title = f"Process memory ({memory_of})" if len(libraries) == 1 else "Process memory"
    names = "; ".join(f"{m.library}: {m.metrics}" for m in libraries)
    return (
        timeseries("Process CPU", Target(expr("cpu"), "{{instance}}"), unit="short", min=0, no_value=MISSING,
                   width=8, description=f"CPU cores used by each instance's process ({names})"),
        timeseries(memory_title, Target(expr("memory"), "{{instance}}"), unit="bytes", min=0,
                   no_value=MISSING, width=8, description=f"Memory of each instance's process: its {memory_of}"),
        timeseries("Open file descriptors (of the limit)", Target(expr("open_files"), "{{instance}}"),
                   unit="percentunit", min=0, max=1, thresholds=FD_THRESHOLDS, no_value=MISSING, width=8,
                   description="Open file descriptors over their limit: at 100% the process refuses new "
                               "connections"),
    )
