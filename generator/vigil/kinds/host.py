"""kind: host — a machine watched by node_exporter (the stack's own host is always one).

CPU, memory, disk full and disk predicted to fill, and the host being down.
"""

from __future__ import annotations

from decimal import Decimal

from ..inventory import Service
from ..rules import Alert, Level, firing_tests, selector, silent_test, threshold_alerts, threshold_tests
from ..units import Duration, percent_text
from ..runbooks import Runbook
from .base import AlertDefaults, Context, ServicePlan, annotations, scraped_alerts, scraped_plan, target_labels

NAME = "host"
FIELDS = {"targets": "required"}
ALERTS = {
    **scraped_alerts(),
    "cpu": AlertDefaults({"warning": Decimal(90), "for": Duration.parse("15m")}),
    "memory": AlertDefaults({"warning": Decimal(90), "critical": Decimal(95), "for": Duration.parse("5m")}),
    "disk": AlertDefaults({"warning": Decimal(85), "critical": Decimal(95), "for": Duration.parse("5m")}),
    "disk_fill": AlertDefaults({"within": Duration.parse("24h"), "for": Duration.parse("30m")}),
}
# What each alert means and what to look at first (the runbooks dashboard).
RUNBOOKS = {
    "HostHighCpu": Runbook(
        "The host's CPUs were busy above the threshold for a while; everything on it slows down.",
        ("Which containers use it: the Containers dashboard.",
         "Load and CPU by mode on the Hosts dashboard (iowait means the disk, not the CPU).")),
    "HostMemoryPressure": Runbook(
        "Available memory fell below the threshold; the kernel will soon swap or kill processes (OOM).",
        ("Which containers grew: memory on the Containers dashboard.",
         "OOM kills in the kernel log: `journalctl -k | grep -i oom`.")),
    "HostDiskFull": Runbook(
        "A filesystem has less free space than the threshold; writes will fail when it is full.",
        ("What grew: `du -xh --max-depth=2 <mountpoint> | sort -h | tail`.",
         "Logs, old images and volumes: `docker system df`, `docker image prune`.",
         "Prometheus' and Loki's retention if it is the stack's own disk.")),
    "HostDiskWillFill": Runbook(
        "At its pace over the last hours the filesystem fills up within the alert's horizon.",
        ("Disk usage over time on the Hosts dashboard: a steady climb or a sudden jump?",
         "The same checks as HostDiskFull, before it is urgent.")),
}
# Filesystems worth alerting on: not the memory-backed or read-only image ones.
FS = 'fstype!~"tmpfs|ramfs|squashfs|overlay|nsfs"'
FILL_WINDOW = Duration.parse("6h")


def dashboard(service: Service) -> str:
    return f"vigil-host?var-service={service.name}"


def plan(service: Service, ctx: Context) -> ServicePlan:
    return scraped_plan(service, ctx, ALERTS, service.targets, dashboard(service),
                        lambda params, disabled: host_rules(service, ctx, params, disabled))


def host_rules(service: Service, ctx: Context, params: dict, disabled) -> tuple:
    name, dash = service.name, dashboard(service)
    target = service.targets[0]
    base = {"job": name, "instance": target, **target_labels(service)}
    fs = {**base, "device": "/dev/sda1", "fstype": "ext4", "mountpoint": "/"}
    svc = f'service="{name}"'
    rules, tests = [], []

    def usage(key: str, alertname: str, value_expr: str, what: str, series_at, out: dict, settle=0):
        p = params[key]
        levels = [Level(s, float(p[s] / 100), percent_text(p[s])) for s in ("warning", "critical") if s in p]
        alerts = threshold_alerts(
            alertname, value_expr, levels, p["for"], {"service": name, "team": service.team},
            lambda lv: annotations(ctx, service, dash, alertname,
                                   f"{name}: {what} {{{{ $value | humanizePercentage }}}} used",
                                   f"{what.capitalize()} of {{{{ $labels.instance }}}} is "
                                   f"{{{{ $value | humanizePercentage }}}} used ({lv.severity} above {lv.text} "
                                   f"for {p['for']})."))
        rules.extend(alerts)
        tests.extend(threshold_tests(alerts, levels, series_at, out, ctx.timing, cap=1.0, settle=settle))

    if "cpu" not in disabled:
        step = ctx.timing.scrape.seconds
        usage("cpu", "HostHighCpu",
              f'1 - avg by (job, instance, service, team) (rate(node_cpu_seconds_total{{{svc},mode="idle"}}[5m]))',
              "CPU", lambda v: [(selector("node_cpu_seconds_total", {**base, "cpu": "0", "mode": "idle"}),
                                 f"0+{round((1 - v) * step, 9)}x{{n}}")],
              {k: base[k] for k in ("job", "instance", "service", "team")}, settle=Duration.parse("5m") + ctx.timing.scrape)
    if "memory" not in disabled:
        usage("memory", "HostMemoryPressure",
              f"1 - node_memory_MemAvailable_bytes{{{svc}}} / node_memory_MemTotal_bytes{{{svc}}}", "memory",
              lambda v: [(selector("node_memory_MemAvailable_bytes", base), f"{round((1 - v) * 1e9)}x{{n}}"),
                         (selector("node_memory_MemTotal_bytes", base), "1000000000x{n}")], base)
    if "disk" not in disabled:
        usage("disk", "HostDiskFull",
              f"1 - node_filesystem_avail_bytes{{{svc},{FS}}} / node_filesystem_size_bytes{{{svc},{FS}}}",
              "disk {{ $labels.mountpoint }}",
              lambda v: [(selector("node_filesystem_avail_bytes", fs), f"{round((1 - v) * 1e9)}x{{n}}"),
                         (selector("node_filesystem_size_bytes", fs), "1000000000x{n}")], fs)
    if "disk_fill" not in disabled:
        p = params["disk_fill"]
        alert = Alert("HostDiskWillFill",
                      f"predict_linear(node_filesystem_avail_bytes{{{svc},{FS}}}[{FILL_WINDOW}], {p['within'].seconds:g})"
                      f" < 0 and node_filesystem_avail_bytes{{{svc},{FS}}} / node_filesystem_size_bytes{{{svc},{FS}}}"
                      f" < 0.4", p["for"], {"service": name, "team": service.team, "severity": "warning"},
                      annotations(ctx, service, dash, "HostDiskWillFill",
                                  f"{name}: disk {{{{ $labels.mountpoint }}}} fills within {p['within']}",
                                  f"At the rate of the last {FILL_WINDOW}, {{{{ $labels.mountpoint }}}} on "
                                  f"{{{{ $labels.instance }}}} will be full within {p['within']}."))
        rules.append(alert)
        size = (selector("node_filesystem_size_bytes", fs), "1000000000x{n}")
        # 30% free, losing 1 MB a sample: full in well under a day at 15s samples.
        tests.append(silent_test("HostDiskWillFill: quiet while steady", alert.name,
                                 [(selector("node_filesystem_avail_bytes", fs), "300000000x{n}"), size],
                                 ctx.timing, p["for"]))
        shrinking = 300_000_000 // max(1, int(p["within"] // ctx.timing.scrape) // 2)
        tests.append(firing_tests("HostDiskWillFill: fires while filling", [alert],
                                  [(selector("node_filesystem_avail_bytes", fs), f"300000000-{shrinking}x{{n}}"), size],
                                  fs, None, ctx.timing, start=ctx.timing.scrape))
    return rules, tests
