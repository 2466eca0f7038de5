"""kind: host — a machine watched by node_exporter (the stack's own host is always one).

CPU, memory, disk full and disk predicted to fill, inodes running out, the clock
drifting or not synchronised, the kernel's OOM killer, and the host being down.

Every metric here is exposed by node_exporter's default collectors (cpu, meminfo,
filesystem, timex, vmstat) from 1.x on, natively and in its Compose image; the
vmstat collector's default field list includes oom_kill (a Linux >= 4.13 counter).
"""

from __future__ import annotations

from decimal import Decimal

from ..inventory import Service
from ..rules import Alert, Level, firing_check_time, firing_tests, selector, silent_test, threshold_alerts, \
    threshold_tests, untied
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
    "inodes": AlertDefaults({"warning": Decimal(85), "critical": Decimal(95), "for": Duration.parse("5m")}),
    # NTP keeps the offset in single milliseconds; 50ms is already far off (TLS, logs, distributed locks).
    "clock_skew": AlertDefaults({"warning": Duration.parse("50ms"), "for": Duration.parse("10m")}),
    "clock_sync": AlertDefaults({"for": Duration.parse("10m")}),
    "oom_kill": AlertDefaults({"for": Duration.parse("0s")}),
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
    "HostInodesFull": Runbook(
        "A filesystem is running out of inodes (file entries) while it may still have free space: creating "
        "files will fail with \"No space left on device\".",
        ("Which directory holds millions of small files: `du -x --inodes --max-depth=2 <mountpoint> | sort -n "
         "| tail` (sessions, caches, mail queues, build artefacts).",
         "Inodes used on the Hosts dashboard: a steady climb or a sudden jump?",
         "Docker's overlay layers and dangling images: `docker system df`, `docker image prune`.")),
    "HostClockSkew": Runbook(
        "The kernel's clock is off from its NTP source by more than the threshold: TLS, token expiry, "
        "log ordering and anything comparing timestamps across machines goes wrong.",
        ("Is the time service running and reaching its servers? `timedatectl`, `chronyc tracking` or "
         "`ntpq -p`.",
         "Clock offset on the Hosts dashboard: a sudden jump (VM paused or migrated) or a steady drift?",
         "A firewall blocking UDP 123 to the NTP servers.")),
    "HostClockNotSynchronising": Runbook(
        "The kernel reports its clock unsynchronised, and its estimated error has grown to the kernel's "
        "16s maximum: nothing has disciplined the clock for hours, so it drifts freely.",
        ("Is a time service installed and running? `timedatectl` (\"System clock synchronized\"), "
         "`systemctl status chrony systemd-timesyncd ntp`.",
         "Can it reach its servers? `chronyc sources` or `ntpq -p`; UDP 123 through the firewall.",
         "In a container or VM the clock is the host's (or hypervisor's): fix it there.")),
    "HostOomKill": Runbook(
        "The kernel's out-of-memory killer killed a process in the last 5 minutes: memory ran out, "
        "on the host or in a container's memory limit.",
        ("What was killed and why: `journalctl -k | grep -i -A5 oom` (\"Killed process … (name)\"; "
         "\"memcg\" means a container or cgroup limit, not the whole host).",
         "Which containers restarted: `docker compose ps`; memory by container on the Containers dashboard.",
         "Memory used on the Hosts dashboard at that time; raise the limit or find the leak.")),
}
# Filesystems worth alerting on: not the memory-backed or read-only image ones.
FS = 'fstype!~"tmpfs|ramfs|squashfs|overlay|nsfs"'
FILL_WINDOW = Duration.parse("6h")
OOM_WINDOW = Duration.parse("5m")     # HostOomKill fires while a kill is this recent
# The kernel caps its estimate of the clock's error (maxerror) at 16s (NTP_PHASE_LIMIT); it
# grows 0.5ms a second once nothing disciplines the clock: at the cap, unsynchronised ~9h.
CLOCK_MAXERROR = 16


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
    if "inodes" not in disabled:
        usage("inodes", "HostInodesFull",
              # Filesystems without a fixed inode table (btrfs, vfat) report 0 files: left out.
              f"1 - node_filesystem_files_free{{{svc},{FS}}} / (node_filesystem_files{{{svc},{FS}}} > 0)",
              "inodes of {{ $labels.mountpoint }}",
              lambda v: [(selector("node_filesystem_files_free", fs), f"{round((1 - v) * 1e9)}x{{n}}"),
                         (selector("node_filesystem_files", fs), "1000000000x{n}")], fs)
    if "clock_skew" not in disabled:
        clock_skew(service, ctx, params["clock_skew"], base, rules, tests)
    if "clock_sync" not in disabled:
        clock_sync(service, ctx, params["clock_sync"], base, rules, tests)
    if "oom_kill" not in disabled:
        oom_kill(service, ctx, params["oom_kill"], base, rules, tests)
    return rules, tests


def clock_skew(service: Service, ctx: Context, p: dict, base: dict, rules: list, tests: list) -> None:
    name, dash = service.name, dashboard(service)
    levels = [Level("warning", p["warning"].seconds, str(p["warning"]))]
    alerts = threshold_alerts(
        "HostClockSkew", f'abs(node_timex_offset_seconds{{service="{name}"}})', levels, p["for"],
        {"service": name, "team": service.team},
        lambda lv: annotations(ctx, service, dash, "HostClockSkew",
                               f"{name}: clock off by {{{{ $value | humanizeDuration }}}}",
                               f"The clock of {{{{ $labels.instance }}}} is {{{{ $value | humanizeDuration }}}} "
                               f"off its NTP source ({lv.severity} above {lv.text} for {p['for']})."))
    rules.extend(alerts)
    sel = selector("node_timex_offset_seconds", base)
    tests.extend(threshold_tests(alerts, levels, lambda v: [(sel, f"{v}x{{n}}")], base, ctx.timing))
    # Behind is as bad as ahead.
    behind = untied(levels[0].threshold * 1.1)
    tests.append(firing_tests("HostClockSkew: fires when the clock is behind", alerts, [(sel, f"-{behind}x{{n}}")],
                              base, behind, ctx.timing))


def clock_sync(service: Service, ctx: Context, p: dict, base: dict, rules: list, tests: list) -> None:
    name, dash = service.name, dashboard(service)
    svc = f'service="{name}"'
    alert = Alert("HostClockNotSynchronising",
                  f"min_over_time(node_timex_sync_status{{{svc}}}[5m]) == 0"
                  f" and node_timex_maxerror_seconds{{{svc}}} >= {CLOCK_MAXERROR}",
                  p["for"], {"service": name, "team": service.team, "severity": "warning"},
                  annotations(ctx, service, dash, "HostClockNotSynchronising",
                              f"{name}: clock not synchronised",
                              f"The kernel of {{{{ $labels.instance }}}} reports its clock unsynchronised, its "
                              f"estimated error at the {CLOCK_MAXERROR}s maximum, for {p['for']}: no time service "
                              f"disciplines it."))
    rules.append(alert)
    status, error = selector("node_timex_sync_status", base), selector("node_timex_maxerror_seconds", base)
    tests.append(silent_test("HostClockNotSynchronising: quiet while synchronised", alert.name,
                             [(status, "1x{n}"), (error, "0.01x{n}")], ctx.timing, p["for"]))
    # Just lost its source: the error estimate still grows towards the cap.
    tests.append(silent_test("HostClockNotSynchronising: quiet while its error is small", alert.name,
                             [(status, "0x{n}"), (error, "2x{n}")], ctx.timing, p["for"]))
    tests.append(firing_tests("HostClockNotSynchronising: fires when unsynchronised for long", [alert],
                              [(status, "0x{n}"), (error, f"{CLOCK_MAXERROR}x{{n}}")], base, None, ctx.timing))


def oom_kill(service: Service, ctx: Context, p: dict, base: dict, rules: list, tests: list) -> None:
    name, dash = service.name, dashboard(service)
    alert = Alert("HostOomKill", f'increase(node_vmstat_oom_kill{{service="{name}"}}[{OOM_WINDOW}]) > 0',
                  p["for"], {"service": name, "team": service.team, "severity": "warning"},
                  annotations(ctx, service, dash, "HostOomKill", f"{name}: the kernel killed a process (OOM)",
                              f"The out-of-memory killer of {{{{ $labels.instance }}}} killed a process in the "
                              f"last {OOM_WINDOW}: `journalctl -k | grep -i oom` there says which."))
    rules.append(alert)
    sel = selector("node_vmstat_oom_kill", base)
    # Kills from sample 10 on: earlier kills (a constant count) and a reboot (the count back to 0) are quiet.
    # One kill keeps it true for OOM_WINDOW; with a longer `for`, only kills that go on fire.
    at = 10 * ctx.timing.scrape
    tests.append(silent_test("HostOomKill: quiet after old kills", alert.name, [(sel, "3x{n}")], ctx.timing,
                             p["for"]))
    tests.append(silent_test("HostOomKill: quiet across a reboot", alert.name, [(sel, "3x9 0x{n}")], ctx.timing,
                             p["for"], settle=at))
    # Only where the check still sees the kill in its window (a step to spare).
    if firing_check_time(at, p["for"], ctx.timing) + ctx.timing.step < at + OOM_WINDOW:
        tests.append(firing_tests("HostOomKill: fires after one kill", [alert], [(sel, "3x9 4x{n}")], base, None,
                                  ctx.timing, start=at))
    tests.append(firing_tests("HostOomKill: fires while processes are killed", [alert], [(sel, "3x9 4+1x{n}")],
                              base, None, ctx.timing, start=at))
