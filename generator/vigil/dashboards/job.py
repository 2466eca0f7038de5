"""The dashboard of a `job` service (uid svc-<name>): Vigil knows only that it is
scraped, so it shows its targets, alerts, deploy markers, container and logs; the
rest is the inventory's own panels."""

from __future__ import annotations

from ..inventory import Service
from ..kinds import job
from . import containers, process, tracker
from .builder import Dashboard, Row, Target, timeseries
from .common import LOG_SEARCH, alerts_table, deploy_markers, firing_count, instances_up, matchers, nav, service_logs, \
    tags, up_timeseries, user_panels


def dashboard(service: Service) -> Dashboard:
    target, owner = matchers(job=service.name), matchers(service=service.name)
    scrape = timeseries("Scrape duration", Target(f"scrape_duration_seconds{{{target}}}", "{{instance}}"), unit="s")
    rows = [Row("Targets", (instances_up(target), firing_count(owner), up_timeseries(target).sized(8), scrape)),
            Row("Alerts", (alerts_table(owner),)),
            Row("Saturation", process.saturation(target) + containers.saturation(service.name)),
            Row("Logs and errors", service_logs(service))]
    rows += tracker.rows(service)
    if service.panels:
        rows.append(Row("Your panels", tuple(user_panels(service))))
    return Dashboard(uid=job.dashboard(service), title=service.name, tags=tags("job", service.team),
                     description=f"The job {service.name} (team {service.team}): its targets and your panels",
                     variables=(LOG_SEARCH,), rows=tuple(rows), links=nav(), annotations=(deploy_markers(service),))
