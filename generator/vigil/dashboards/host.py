"""Hosts (uid vigil-host, `service` and `instance` variables): node_exporter's CPU,
memory, disks and inodes, network, clock and OOM kills, with the thresholds of the
host alerts' defaults."""

from __future__ import annotations

from ..kinds import host
from .builder import GREEN, RED, Dashboard, Row, Target, Thresholds, Variable, gauge, stat, timeseries, value_map
from .common import firing_count, instances_up, nav, tags, uid_of

S = 'service=~"$service",instance=~"$instance"'
FS = f"{S},{host.FS}"


def _limits(alert: str) -> Thresholds:
    p = host.ALERTS[alert].params
    return Thresholds.rising(float(p["warning"] / 100), float(p["critical"] / 100) if "critical" in p else None)


def dashboard() -> Dashboard:
    cpu_used = f'1 - avg by (instance) (rate(node_cpu_seconds_total{{mode="idle",{S}}}[$__rate_interval]))'
    mem_used = f"1 - node_memory_MemAvailable_bytes{{{S}}} / node_memory_MemTotal_bytes{{{S}}}"
    disk_used = f"1 - node_filesystem_avail_bytes{{{FS}}} / node_filesystem_size_bytes{{{FS}}}"
    inodes_used = f"1 - node_filesystem_files_free{{{FS}}} / (node_filesystem_files{{{FS}}} > 0)"
    glance = (
        instances_up(f'kind="host",{S}', "Targets up"),
        firing_count('service=~"$service"'),
        gauge("CPU", Target(f"max({cpu_used})"), unit="percentunit", min=0, max=1, thresholds=_limits("cpu")),
        gauge("Memory", Target(f"max({mem_used})"), unit="percentunit", min=0, max=1,
              thresholds=_limits("memory")),
        gauge("Fullest disk", Target(f"max({disk_used})"), unit="percentunit", min=0, max=1,
              thresholds=_limits("disk")),
        stat("Uptime", Target(f"min(time() - node_boot_time_seconds{{{S}}})"), unit="dtdurations"),
    )
    cpu_mem = (
        timeseries("CPU used", Target(cpu_used, "{{instance}}"), unit="percentunit", min=0, max=1,
                   thresholds=_limits("cpu")),
        timeseries("Load", Target(f"node_load1{{{S}}}", "{{instance}} 1m"),
                   Target(f"node_load15{{{S}}}", "{{instance}} 15m")),
        timeseries("Memory used", Target(mem_used, "{{instance}}"), unit="percentunit", min=0, max=1,
                   thresholds=_limits("memory")),
    )
    disks = (
        timeseries("Disk used", Target(disk_used, "{{instance}} {{mountpoint}}"), unit="percentunit", min=0,
                   max=1, thresholds=_limits("disk"), width=12),
        timeseries(f"Free in {host.ALERTS['disk_fill'].params['within']} at the last {host.FILL_WINDOW}'s pace",
                   Target(f"predict_linear(node_filesystem_avail_bytes{{{FS}}}[{host.FILL_WINDOW}], "
                          f"{host.ALERTS['disk_fill'].params['within'].seconds:g})",
                          "{{instance}} {{mountpoint}}"), unit="bytes", width=12),
        timeseries("Inodes used", Target(inodes_used, "{{instance}} {{mountpoint}}"), unit="percentunit", min=0,
                   max=1, thresholds=_limits("inodes"), width=12,
                   description="Filesystems without a fixed inode table (btrfs, vfat) report none and are left out."),
        timeseries("Disk I/O", Target(f'sum by (instance) (rate(node_disk_read_bytes_total{{{S}}}[$__rate_interval]))',
                                      "{{instance}} read"),
                   Target(f'sum by (instance) (rate(node_disk_written_bytes_total{{{S}}}[$__rate_interval]))',
                          "{{instance}} written"), unit="Bps", width=12),
    )
    skew = host.ALERTS["clock_skew"].params["warning"].seconds
    kernel = (
        timeseries("Clock offset", Target(f"node_timex_offset_seconds{{{S}}}", "{{instance}}"), unit="s", width=10,
                   thresholds=Thresholds.rising(skew), description=f"Offset from the NTP source, as the kernel "
                   f"knows it (positive: ahead). HostClockSkew fires beyond ±{skew:g}s."),
        stat("Clock synchronised", Target(f"min(node_timex_sync_status{{{S}}})"), width=4, height=8,
             mappings=(value_map({"0": ("NO", RED), "1": ("YES", GREEN)}),),
             description="Whether the kernel's clock is disciplined by NTP (chrony, timesyncd, ntpd) on every "
                         "selected host."),
        timeseries("OOM kills", Target(f"sum by (instance) (increase(node_vmstat_oom_kill{{{S}}}"
                                       f"[$__rate_interval]))", "{{instance}}"), width=10,
                   description="Processes the kernel's out-of-memory killer killed (whole host or a container's "
                               "memory limit): `journalctl -k | grep -i oom` says which."),
    )
    net = f'{S},device!~"lo|veth.*|docker.*|br-.*"'
    network = (
        timeseries("Network received", Target(
            f"sum by (instance) (rate(node_network_receive_bytes_total{{{net}}}[$__rate_interval]))",
            "{{instance}}"), unit="Bps", width=12),
        timeseries("Network sent", Target(
            f"sum by (instance) (rate(node_network_transmit_bytes_total{{{net}}}[$__rate_interval]))",
            "{{instance}}"), unit="Bps", width=12),
        # HostConntrackFull and HostFileDescriptorsFull: the kernel tables that refuse new connections and files.
        timeseries("Connection tracking used", Target(
            f"node_nf_conntrack_entries{{{S}}} / node_nf_conntrack_entries_limit{{{S}}}", "{{instance}}"),
            unit="percentunit", min=0, max=1, width=12),
        timeseries("File handles used", Target(
            f"node_filefd_allocated{{{S}}} / node_filefd_maximum{{{S}}}", "{{instance}}"),
            unit="percentunit", min=0, max=1, width=12),
    )
    variables = (
        Variable.from_query("service", 'label_values(up{kind="host"}, service)', label="Host",
                            multi=True, include_all=True),
        Variable.from_query("instance", 'label_values(up{kind="host",service=~"$service"}, instance)',
                            multi=True, include_all=True),
    )
    return Dashboard(uid=uid_of("host"), title="Hosts", tags=tags("host"), description="node_exporter's view "
                     "of each host: CPU, memory, disks and inodes, network, clock and OOM kills",
                     variables=variables, links=nav(),
                     rows=(Row("At a glance", glance), Row("CPU and memory", cpu_mem), Row("Disks", disks),
                           Row("Network", network), Row("Clock and OOM kills", kernel)))
