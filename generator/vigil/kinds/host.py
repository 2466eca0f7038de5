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
from ..rules import Alert, Level, firing_check_time, firing_tests, latest, rate_threshold_tests, selector, \
    silent_check_time, silent_test, steady, threshold_alerts, threshold_tests, untied
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
    # full at the pace of the last 6h within `within` and under `free` free (warning), within
    # `critical_within` and under `critical_free` (critical): node-mixin's NodeFilesystemSpaceFillingUp
    "disk_fill": AlertDefaults({"within": Duration.parse("24h"), "free": Decimal(40),
                                "critical_within": Duration.parse("4h"), "critical_free": Decimal(20),
                                "for": Duration.parse("30m")},
                               below=(("within", "critical_within"), ("free", "critical_free"))),
    # a filesystem turned read-only (remounted after errors) in the last day, or unreadable (statfs fails)
    "filesystem_errors": AlertDefaults({"for": Duration.parse("5m")}),
    # receive or transmit errors / packets of an interface, over 5m (node-mixin: 1%, for 1h)
    "network_errors": AlertDefaults({"warning": Decimal(1), "for": Duration.parse("1h")}),
    # connection tracking entries / its limit: past it the kernel drops new connections (nf_conntrack loaded)
    "conntrack": AlertDefaults({"warning": Decimal(75), "critical": Decimal(90), "for": Duration.parse("5m")}),
    # file handles allocated / fs.file-max
    "file_descriptors": AlertDefaults({"warning": Decimal(70), "critical": Decimal(90), "for": Duration.parse("15m")}),
    # 1-minute load per CPU: runnable (and uninterruptible) tasks queuing for the CPUs
    "load": AlertDefaults({"warning": 2.0, "for": Duration.parse("15m")}),
    # seconds spent on queued I/O per second of a disk (its average queue length), node-mixin's saturation
    "disk_io": AlertDefaults({"warning": 10.0, "for": Duration.parse("30m")}),
    "inodes": AlertDefaults({"warning": Decimal(85), "critical": Decimal(95), "for": Duration.parse("5m")}),
    # NTP keeps the offset in single milliseconds; 50ms is already far off (TLS, logs, distributed locks).
    "clock_skew": AlertDefaults({"warning": Duration.parse("50ms"), "for": Duration.parse("10m")}),
    "clock_sync": AlertDefaults({"for": Duration.parse("10m")}),
    "oom_kill": AlertDefaults({"for": Duration.parse("0s")}),
}
# What each alert means and what to look at first (the runbooks dashboard).
RUNBOOKS = {
    "HostHighCpu": Runbook(
        "The host's CPUs were busy above the threshold for a while; everything on it slows down. Time idle, "
        "waiting on I/O (iowait) and stolen by the hypervisor does not count as busy (as node-mixin's).",
        ("Which containers use it: the Containers dashboard.",
         "Load and CPU by mode on the Hosts dashboard (iowait means the disk, not the CPU).")),
    "HostMemoryPressure": Runbook(
        "Available memory fell below the threshold; the kernel will soon swap or kill processes (OOM). "
        "Critical at 95% used, where node-mixin only warns (at 90%, for 15m): with 5% left, the next "
        "allocation burst is an OOM kill on a small VM, so Vigil pages.",
        ("Which containers grew: memory on the Containers dashboard.",
         "OOM kills in the kernel log: `journalctl -k | grep -i oom`.")),
    "HostDiskFull": Runbook(
        "A filesystem has less free space than the threshold; writes will fail when it is full.",
        ("What grew: `du -xh --max-depth=2 <mountpoint> | sort -h | tail`.",
         "Logs, old images and volumes: `docker system df`, `docker image prune`.",
         "Prometheus' and Loki's retention if it is the stack's own disk.")),
    "HostDiskWillFill": Runbook(
        "At its pace over the last hours the filesystem fills up within the alert's horizon, and it has little "
        "left: a warning when full within 24h with under 40% free, critical within 4h with under 20% free "
        "(node-mixin's NodeFilesystemSpaceFillingUp). A disk half free and filling is not an alert.",
        ("Disk usage over time on the Hosts dashboard: a steady climb or a sudden jump?",
         "The same checks as HostDiskFull, before it is urgent.")),
    "HostInodesFull": Runbook(
        "A filesystem is running out of inodes (file entries) while it may still have free space: creating "
        "files will fail with \"No space left on device\".",
        ("Which directory holds millions of small files: `du -x --inodes --max-depth=2 <mountpoint> | sort -n "
         "| tail` (sessions, caches, mail queues, build artefacts).",
         "Inodes used on the Hosts dashboard: a steady climb or a sudden jump?",
         "Docker's overlay layers and dangling images: `docker system df`, `docker image prune`.")),
    "HostFilesystemErrors": Runbook(
        "A filesystem turned read-only within the last day (the kernel remounts one read-only after I/O or "
        "journal errors), or node_exporter cannot stat it at all (device_error): writes to it fail.",
        ("The kernel log: `journalctl -k | grep -i -E 'ext4|xfs|I/O error|remount'`.",
         "The disk's health: `smartctl -a /dev/<disk>`; on a VM, the hypervisor's storage.",
         "`mount | grep <mountpoint>` (ro?); fsck it before remounting read-write.",
         "A filesystem read-only on purpose, remounted so today: disable the alert for this host.")),
    "HostNetworkErrors": Runbook(
        "An interface reports receive or transmit errors for more than the threshold share of its packets: a "
        "bad cable or port, a duplex mismatch, or a driver problem; connections retry and slow down.",
        ("`ip -s link show <device>` and `ethtool -S <device>` for which errors (CRC, frame, fifo, carrier).",
         "Errors on both ends of the link? The switch port's counters.",
         "On a VM: the virtual NIC's ring buffers (`ethtool -g`) and the host's load.")),
    "HostConntrackFull": Runbook(
        "The kernel's connection-tracking table is close to nf_conntrack_max: past it the kernel drops new "
        "connections (`nf_conntrack: table full, dropping packet` in its log). Needs the nf_conntrack module "
        "(loaded by any NAT or stateful firewall, Docker's included); without it the alert stays empty.",
        ("`conntrack -C` against `sysctl net.netfilter.nf_conntrack_max`; `conntrack -L | awk '{print $3}' | sort | "
         "uniq -c` for who holds the entries.",
         "Many short connections (no keep-alive, a retry storm) or a scan.",
         "Raise `net.netfilter.nf_conntrack_max` (memory: ~300 bytes an entry) or shorten the timeouts.")),
    "HostFileDescriptorsFull": Runbook(
        "The kernel has allocated most of its file handles (fs.file-max): when none is left, every process "
        "fails to open files and sockets (`Too many open files in system`).",
        ("Who holds them: `for p in /proc/[0-9]*; do echo \"$(ls $p/fd 2>/dev/null | wc -l) $p\"; done | sort -n | tail`.",
         "A process leaking descriptors: its count climbing on the Hosts dashboard.",
         "Raise `fs.file-max` (sysctl) if the load is legitimate.")),
    "HostHighLoad": Runbook(
        "More tasks want a CPU (or wait uninterruptibly on I/O) than the host has CPUs, for a while: work "
        "queues and everything answers slower. The load counts tasks in D state too, so a slow disk shows here.",
        ("CPU by mode on the Hosts dashboard: busy (HostHighCpu) or iowait (then the disk: HostDiskIoSaturated)?",
         "`top` / `ps -eo state,pid,cmd | grep '^D'` for tasks blocked on I/O.",
         "Which containers: the Containers dashboard.")),
    "HostDiskIoSaturated": Runbook(
        "A disk's queue stays long (on average more than the threshold of I/O requests in flight): it is "
        "saturated, and every read and write waits.",
        ("Which processes: `iotop -o` or `pidstat -d 5`.",
         "Disk I/O on the Hosts dashboard: reads or writes, a batch job, a backup, swapping (memory)?",
         "On a VM or cloud disk: its IOPS or throughput limit.")),
    "HostClockSkew": Runbook(
        "The kernel's clock is off from its NTP source by more than the threshold and not getting closer: "
        "TLS, token expiry, log ordering and anything comparing timestamps across machines goes wrong. While "
        "the time service is correcting it (the offset shrinking), it stays quiet, as node-mixin's does.",
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
DISK = 1_000_000_000         # the size of the tests' filesystems, in bytes
OOM_WINDOW = Duration.parse("5m")     # HostOomKill fires while a kill is this recent
# The kernel caps its estimate of the clock's error (maxerror) at 16s (NTP_PHASE_LIMIT); it
# grows 0.5ms a second once nothing disciplines the clock: at the cap, unsynchronised ~9h.
CLOCK_MAXERROR = 16
BY = "job, instance, service, team"     # one value per host
READONLY_WINDOW = Duration.parse("6h")  # HostFilesystemErrors: turned read-only within this long


def dashboard(service: Service) -> str:
    return f"vigil-host?var-service={service.name}"


def plan(service: Service, ctx: Context) -> ServicePlan:
    return scraped_plan(service, ctx, ALERTS, service.targets, dashboard(service),
                        lambda params, disabled: host_rules(service, ctx, params, disabled))


def _fill_pace(start: int, horizon: Duration, duration: int, floor: float, timing) -> int | None:
    """Bytes lost a scrape by a disk with `start` bytes free, for the tests: full in 90% of
    `horizon` (so predicted full within it) yet still over `floor` bytes free after `duration`
    ms; None when no pace does both."""
    loss = -(-start * timing.scrape // max(1, int(0.9 * horizon)))
    return loss if start - loss * (duration // timing.scrape + 1) > 1.02 * floor else None


def host_rules(service: Service, ctx: Context, params: dict, disabled) -> tuple:
    name, dash = service.name, dashboard(service)
    target = service.targets[0]
    base = {"job": name, "instance": target, **target_labels(service)}
    fs = {**base, "device": "/dev/sda1", "fstype": "ext4", "mountpoint": "/"}
    svc = f'service="{name}"'
    t = ctx.timing
    rules, tests = [], []

    def usage(key: str, alertname: str, value_expr: str, what: str, series_at, out: dict, settle=0, gap=True):
        p = params[key]
        levels = [Level(s, float(p[s] / 100), percent_text(p[s])) for s in ("warning", "critical") if s in p]
        alerts = threshold_alerts(
            alertname, value_expr, levels, p["for"], {"service": name, "team": service.team},
            lambda lv: annotations(ctx, service, dash, alertname,
                                   f"{name}: {what} {{{{ $value | humanizePercentage }}}} used",
                                   f"{what[0].upper() + what[1:]} of {{{{ $labels.instance }}}} is "
                                   f"{{{{ $value | humanizePercentage }}}} used ({lv.severity} above {lv.text} "
                                   f"for {p['for']})."))
        rules.extend(alerts)
        tests.extend(threshold_tests(alerts, levels, series_at, out, ctx.timing, cap=1.0, settle=settle, gap=gap))

    def used(free: str, total: str) -> str:
        """1 - free / total, each read through the gauge window: the most free of the window."""
        return f"1 - {steady(free, t, falling=True)} / {latest(total, t)}"

    def share(part: str, whole: str) -> str:
        """part / whole by host, the part read through the gauge window: its lowest."""
        return f"max by ({BY}) ({steady(part, t)}) / max by ({BY}) ({latest(whole, t)})"

    out = {k: base[k] for k in BY.split(", ")}
    cpus = latest(f'node_cpu_seconds_total{{{svc},mode="idle"}}', t)     # one series a CPU
    if "cpu" not in disabled:
        step = ctx.timing.scrape.seconds
        # Not busy: idle, waiting on I/O, or stolen by the hypervisor (node-mixin's CPU utilisation).
        usage("cpu", "HostHighCpu",
              f'1 - sum by ({BY}) (rate(node_cpu_seconds_total{{{svc},mode=~"idle|iowait|steal"}}[5m])) / '
              f'count by ({BY}) ({cpus})',
              "CPU", lambda v: [(selector("node_cpu_seconds_total", {**base, "cpu": "0", "mode": "idle"}),
                                 f"0+{round((1 - v) * step, 9)}x{{n}}")],
              out, settle=Duration.parse("5m") + ctx.timing.scrape, gap=False)
        # Waiting on the disk is not CPU work: a host all in iowait is quiet here (HostHighLoad, HostDiskIoSaturated).
        tests.append(silent_test("HostHighCpu: quiet while the CPU waits on I/O", "HostHighCpu",
                                 [(selector("node_cpu_seconds_total", {**base, "cpu": "0", "mode": "idle"}),
                                   f"0+{round(0.02 * step, 9)}x{{n}}"),
                                  (selector("node_cpu_seconds_total", {**base, "cpu": "0", "mode": "iowait"}),
                                   f"0+{round(0.97 * step, 9)}x{{n}}")], ctx.timing, params["cpu"]["for"],
                                 settle=Duration.parse("5m") + ctx.timing.scrape))
    if "memory" not in disabled:
        usage("memory", "HostMemoryPressure",
              used(f"node_memory_MemAvailable_bytes{{{svc}}}", f"node_memory_MemTotal_bytes{{{svc}}}"), "memory",
              lambda v: [(selector("node_memory_MemAvailable_bytes", base), f"{round((1 - v) * 1e9)}x{{n}}"),
                         (selector("node_memory_MemTotal_bytes", base), "1000000000x{n}")], base)
    if "disk" not in disabled:
        usage("disk", "HostDiskFull",
              used(f"node_filesystem_avail_bytes{{{svc},{FS}}}", f"node_filesystem_size_bytes{{{svc},{FS}}}"),
              "disk {{ $labels.mountpoint }}",
              lambda v: [(selector("node_filesystem_avail_bytes", fs), f"{round((1 - v) * 1e9)}x{{n}}"),
                         (selector("node_filesystem_size_bytes", fs), "1000000000x{n}")], fs)
    for prefix, severity in (("", "warning"), ("critical_", "critical")):
        if "disk_fill" in disabled:
            break
        p = params["disk_fill"]
        within, free = p[prefix + "within"], p[prefix + "free"]
        avail, size = f"node_filesystem_avail_bytes{{{svc},{FS}}}", f"node_filesystem_size_bytes{{{svc},{FS}}}"
        alert = Alert("HostDiskWillFill",
                      f"predict_linear({avail}[{FILL_WINDOW}], {within.seconds:g}) < 0 and "
                      f"{steady(avail, t, falling=True)} / {latest(size, t)} < {float(free / 100):g}",
                      p["for"], {"service": name, "team": service.team, "severity": severity},
                      annotations(ctx, service, dash, "HostDiskWillFill",
                                  f"{name}: disk {{{{ $labels.mountpoint }}}} fills within {within}",
                                  f"At the rate of the last {FILL_WINDOW}, {{{{ $labels.mountpoint }}}} on "
                                  f"{{{{ $labels.instance }}}} will be full within {within}, and it has under "
                                  f"{percent_text(free)} free ({severity})."))
        rules.append(alert)
        sz = (selector("node_filesystem_size_bytes", fs), f"{DISK}x{{n}}")

        def avail_of(start: int, loss: int) -> list:
            return [(selector("node_filesystem_avail_bytes", fs), f"{start}-{loss}x{{n}}"), sz]
        # Just under the free share.
        left = int(DISK * float(free / 100) * 0.9)
        tests.append(silent_test(f"HostDiskWillFill ({severity}): quiet while steady", alert.name,
                                 avail_of(left, 0), ctx.timing, p["for"]))
        # Half free and filling, full within the horizon: the references do not alert, nor does Vigil.
        # (No such test where the horizon is shorter than the test: the disk would be full in it.)
        quiet = silent_check_time(p["for"], ctx.timing)
        loss = _fill_pace(DISK // 2, within, quiet, DISK * float(free / 100), ctx.timing)
        if loss is not None:
            tests.append(silent_test(f"HostDiskWillFill ({severity}): quiet half free and filling", alert.name,
                                     avail_of(DISK // 2, loss), ctx.timing, p["for"]))
        if severity == "warning":
            # At the warning's pace, the critical's case is not reached (its share free, or its horizon):
            # only the warning fires.
            late = firing_check_time(ctx.timing.scrape, p["for"], ctx.timing)
            loss = _fill_pace(left, within, late, DISK * float(p["critical_free"] / 100), ctx.timing)
            if loss is None and 0.9 * within - late > 1.1 * p["critical_within"]:
                loss = _fill_pace(left, within, late, 0, ctx.timing)
            if loss is not None:
                tests.append(firing_tests("HostDiskWillFill: warning while filling", [alert], avail_of(left, loss),
                                          fs, None, ctx.timing, start=ctx.timing.scrape))
    if "disk_fill" not in disabled:
        fast = [a for a in rules if a.name == "HostDiskWillFill"]
        p = params["disk_fill"]
        left = int(DISK * float(p["critical_free"] / 100) * 0.5)
        shrinking = left // max(1, int(p["critical_within"] // ctx.timing.scrape) // 2)
        tests.append(firing_tests("HostDiskWillFill: critical while filling fast", fast,
                                  [(selector("node_filesystem_avail_bytes", fs), f"{left}-{shrinking}x{{n}}"),
                                   (selector("node_filesystem_size_bytes", fs), f"{DISK}x{{n}}")],
                                  fs, None, ctx.timing, start=ctx.timing.scrape))
    if "inodes" not in disabled:
        usage("inodes", "HostInodesFull",
              # Filesystems without a fixed inode table (btrfs, vfat) report 0 files: left out.
              f"1 - {steady(f'node_filesystem_files_free{{{svc},{FS}}}', t, falling=True)} / "
              f"({latest(f'node_filesystem_files{{{svc},{FS}}}', t)} > 0)",
              "inodes of {{ $labels.mountpoint }}",
              lambda v: [(selector("node_filesystem_files_free", fs), f"{round((1 - v) * 1e9)}x{{n}}"),
                         (selector("node_filesystem_files", fs), "1000000000x{n}")], fs)
    if "filesystem_errors" not in disabled:
        filesystem_errors(service, ctx, params["filesystem_errors"], fs, rules, tests)
    if "network_errors" not in disabled:
        network_errors(service, ctx, params["network_errors"], base, rules, tests)
    if "conntrack" not in disabled:
        usage("conntrack", "HostConntrackFull",
              share(f"node_nf_conntrack_entries{{{svc}}}", f"node_nf_conntrack_entries_limit{{{svc}}}"),
              "connection tracking table",
              lambda v: [(selector("node_nf_conntrack_entries", base), f"{round(v * 1e6)}x{{n}}"),
                         (selector("node_nf_conntrack_entries_limit", base), "1000000x{n}")], out)
    if "file_descriptors" not in disabled:
        usage("file_descriptors", "HostFileDescriptorsFull",
              share(f"node_filefd_allocated{{{svc}}}", f"node_filefd_maximum{{{svc}}}"), "file handles",
              lambda v: [(selector("node_filefd_allocated", base), f"{round(v * 1e6)}x{{n}}"),
                         (selector("node_filefd_maximum", base), "1000000x{n}")], out)
    if "load" not in disabled:
        p = params["load"]
        levels = [Level(s, p[s], f"{p[s]:g}") for s in ("warning", "critical") if s in p]
        alerts = threshold_alerts(
            "HostHighLoad", f"max by ({BY}) ({steady(f'node_load1{{{svc}}}', t)}) / count by ({BY}) "
                            f"({cpus})", levels, p["for"],
            {"service": name, "team": service.team},
            lambda lv: annotations(ctx, service, dash, "HostHighLoad", f"{name}: load {{{{ $value | humanize }}}} per CPU",
                                   f"{{{{ $labels.instance }}}} has had {{{{ $value | humanize }}}} runnable or blocked "
                                   f"tasks per CPU ({lv.severity} above {lv.text} for {p['for']}): work queues."))
        rules.extend(alerts)
        two = [(selector("node_cpu_seconds_total", {**base, "cpu": str(c), "mode": "idle"}), "0+1x{n}") for c in (0, 1)]
        tests.extend(threshold_tests(alerts, levels, lambda v: [(selector("node_load1", base), f"{untied(v * 2)}x{{n}}"),
                                                                *two], out, ctx.timing, gap=True))
    if "disk_io" not in disabled:
        p = params["disk_io"]
        levels = [Level(s, p[s], f"{p[s]:g}") for s in ("warning", "critical") if s in p]
        metric = "node_disk_io_time_weighted_seconds_total"
        alerts = threshold_alerts(
            "HostDiskIoSaturated", f"rate({metric}{{{svc}}}[5m])", levels, p["for"], {"service": name, "team": service.team},
            lambda lv: annotations(ctx, service, dash, "HostDiskIoSaturated",
                                   f"{name}: disk {{{{ $labels.device }}}} saturated",
                                   f"Disk {{{{ $labels.device }}}} of {{{{ $labels.instance }}}} has had "
                                   f"{{{{ $value | humanize }}}} I/O requests in flight on average over 5m "
                                   f"({lv.severity} above {lv.text} for {p['for']})."))
        rules.extend(alerts)
        disk = {**base, "device": "sda"}
        step = ctx.timing.scrape.seconds
        tests.extend(rate_threshold_tests(alerts, levels, lambda v: [(selector(metric, disk), f"0+{round(v * step, 9)}x{{n}}")],
                                          disk, ctx.timing, Duration.parse("5m")))
    if "clock_skew" not in disabled:
        clock_skew(service, ctx, params["clock_skew"], base, rules, tests)
    if "clock_sync" not in disabled:
        clock_sync(service, ctx, params["clock_sync"], base, rules, tests)
    if "oom_kill" not in disabled:
        oom_kill(service, ctx, params["oom_kill"], base, rules, tests)
    return rules, tests


def clock_skew(service: Service, ctx: Context, p: dict, base: dict, rules: list, tests: list) -> None:
    name, dash = service.name, dashboard(service)
    offset = f'node_timex_offset_seconds{{service="{name}"}}'
    levels = [Level("warning", p["warning"].seconds, str(p["warning"]))]
    # Off, and not being corrected: an offset that shrinks (offset and its slope of opposite signs)
    # is NTP at work (node-mixin's NodeClockSkewDetected).
    alerts = threshold_alerts(
        "HostClockSkew", f"(abs({latest(offset, ctx.timing)}) unless on (job, instance) "
                         f"({offset} * deriv({offset}[5m]) < 0))", levels, p["for"],
        {"service": name, "team": service.team},
        lambda lv: annotations(ctx, service, dash, "HostClockSkew",
                               f"{name}: clock off by {{{{ $value | humanizeDuration }}}}",
                               f"The clock of {{{{ $labels.instance }}}} is {{{{ $value | humanizeDuration }}}} "
                               f"off its NTP source and not getting closer ({lv.severity} above {lv.text} for "
                               f"{p['for']})."))
    rules.extend(alerts)
    sel = selector("node_timex_offset_seconds", base)
    tests.extend(threshold_tests(alerts, levels, lambda v: [(sel, f"{v}x{{n}}")], base, ctx.timing, gap=True))
    # Behind is as bad as ahead.
    behind = untied(levels[0].threshold * 1.1)
    tests.append(firing_tests("HostClockSkew: fires when the clock is behind", alerts, [(sel, f"-{behind}x{{n}}")],
                              base, behind, ctx.timing))
    # Far off but shrinking, ahead or behind: the time service is correcting it.
    far = levels[0].threshold * 10
    n = ctx.timing.samples(silent_check_time(p["for"], ctx.timing))      # the test's samples: never past 0
    fix = far * 0.8 / n
    for side, values in (("ahead", f"{far:g}-{fix:.9g}x{{n}}"), ("behind", f"-{far:g}+{fix:.9g}x{{n}}")):
        tests.append(silent_test(f"HostClockSkew: quiet while NTP corrects it ({side})", "HostClockSkew",
                                 [(sel, values)], ctx.timing, p["for"]))


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


def filesystem_errors(service: Service, ctx: Context, p: dict, fs: dict, rules: list, tests: list) -> None:
    name, dash, svc = service.name, dashboard(service), f'service="{service.name}"'
    ro = f"node_filesystem_readonly{{{svc},{FS}}}"
    alert = Alert("HostFilesystemErrors",
                  f"({latest(ro, ctx.timing)} == 1 and min_over_time({ro}[{READONLY_WINDOW}]) == 0) or "
                  f"{latest(f'node_filesystem_device_error{{{svc},{FS}}}', ctx.timing)} == 1",
                  p["for"], {"service": name, "team": service.team, "severity": "critical"},
                  annotations(ctx, service, dash, "HostFilesystemErrors",
                              f"{name}: filesystem {{{{ $labels.mountpoint }}}} read-only or failing",
                              f"{{{{ $labels.mountpoint }}}} ({{{{ $labels.device }}}}) on {{{{ $labels.instance }}}} "
                              f"turned read-only within {READONLY_WINDOW}, or cannot be read (device_error), for "
                              f"{p['for']}: writes to it fail."))
    rules.append(alert)
    ro_s, err = selector("node_filesystem_readonly", fs), selector("node_filesystem_device_error", fs)
    tests.extend([
        silent_test("HostFilesystemErrors: quiet while writable", alert.name, [(ro_s, "0x{n}"), (err, "0x{n}")],
                    ctx.timing, p["for"]),
        silent_test("HostFilesystemErrors: quiet for a filesystem read-only all along", alert.name,
                    [(ro_s, "1x{n}"), (err, "0x{n}")], ctx.timing, p["for"]),
        firing_tests("HostFilesystemErrors: fires when remounted read-only", [alert],
                     [(ro_s, "0x9 1x{n}"), (err, "0x{n}")], fs, None, ctx.timing, start=10 * ctx.timing.scrape),
        firing_tests("HostFilesystemErrors: fires on a device error", [alert], [(ro_s, "0x{n}"), (err, "1x{n}")],
                     fs, None, ctx.timing),
    ])


def network_errors(service: Service, ctx: Context, p: dict, base: dict, rules: list, tests: list) -> None:
    name, dash, svc = service.name, dashboard(service), f'service="{service.name}"'
    # Over at least 1 packet a second: an idle interface is 0, not 0/0, and a trickle does not page.
    ratio = " or ".join(
        f'label_replace(rate(node_network_{d}_errs_total{{{svc}}}[5m]) / '
        f'clamp_min(rate(node_network_{d}_packets_total{{{svc}}}[5m]), 1), '
        f'"direction", "{d}", "", "")' for d in ("receive", "transmit"))
    levels = [Level(s, float(p[s] / 100), percent_text(p[s])) for s in ("warning", "critical") if s in p]
    alerts = threshold_alerts(
        "HostNetworkErrors", f"({ratio})", levels, p["for"], {"service": name, "team": service.team},
        lambda lv: annotations(ctx, service, dash, "HostNetworkErrors",
                               f"{name}: {{{{ $labels.direction }}}} errors on {{{{ $labels.device }}}}",
                               f"{{{{ $value | humanizePercentage }}}} of the packets {{{{ $labels.device }}}} of "
                               f"{{{{ $labels.instance }}}} {{{{ $labels.direction }}}}s fail over 5m ({lv.severity} "
                               f"above {lv.text} for {p['for']})."))
    rules.extend(alerts)
    nic = {**base, "device": "eth0"}
    step = ctx.timing.scrape.seconds
    for d in ("receive", "transmit"):
        tests.extend(threshold_tests(
            alerts, levels,
            lambda v, d=d: [(selector(f"node_network_{d}_packets_total", nic), f"0+{1000 * step:g}x{{n}}"),
                            (selector(f"node_network_{d}_errs_total", nic), f"0+{round(1000 * v * step, 9)}x{{n}}")],
            {**nic, "direction": d}, ctx.timing, start=ctx.timing.scrape, title=f"HostNetworkErrors ({d})"))
