"""kind: redis — a redis server watched through redis_exporter.

For now its scrape job and the down alert; the alerts operators expect come with issue 6.
"""

from .base import exporter_kind

NAME = "redis"
DEFAULT_PORT = 9121
SERVER_UP = "redis_up"        # the exporter reaches the server: 1, or 0
FIELDS, ALERTS, dashboard, plan = exporter_kind(NAME, DEFAULT_PORT, SERVER_UP)

# Its dashboard (vigil-redis): (title, the exporter's "can I reach the server" gauge,
# [(panel title, PromQL, legend, unit)]); S selects the dashboard's services, R is the rate window.
S = 'service=~"$service"'
R = "[$__rate_interval]"
VITALS = ("Redis", SERVER_UP, [
    ("Clients", f"redis_connected_clients{{{S}}}", "{{service}}", "short"),
    ("Memory used", f"redis_memory_used_bytes{{{S}}}", "{{service}}", "bytes"),
    ("Commands", f"rate(redis_commands_processed_total{{{S}}}{R})", "{{service}}", "ops"),
    ("Cache hit ratio", f"rate(redis_keyspace_hits_total{{{S}}}{R}) / (rate(redis_keyspace_hits_total{{{S}}}{R})"
                        f" + rate(redis_keyspace_misses_total{{{S}}}{R}))", "{{service}}", "percentunit"),
])
