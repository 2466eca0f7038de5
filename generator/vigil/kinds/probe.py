"""kind: probe — an external URL (`url:`) watched by the blackbox exporter.

Down, slow and (for https) TLS certificate expiry; the probes feed the uptime
figures of the status page.
"""

from __future__ import annotations

from ..inventory import Service
from ..rules import Alert, Level, firing_tests, latest, selector, silent_test, steady, threshold_alerts, \
    threshold_tests
from ..units import Duration
from ..runbooks import Runbook
from .base import DOWN_FOR, PROBE_JOB, AlertDefaults, Context, Probe, ServicePlan, alert_params, annotations, \
    finish, service_labels, target_labels

NAME = "probe"
FIELDS = {"targets": "forbidden", "url": "required", "metrics_path": False}
ALERTS = {
    "down": AlertDefaults({"for": DOWN_FOR}),
    "slow": AlertDefaults({"warning": Duration.parse("1s"), "for": Duration.parse("5m")}),
    # 20 days, as the references (awesome-prometheus-alerts, the blackbox mixin) warn: time for a renewal
    # that failed silently to be noticed and done by hand.
    "tls_expiry": AlertDefaults({"warning": Duration.parse("20d"), "critical": Duration.parse("3d"),
                                 "for": Duration.parse("0s")}, falling=True),
    "tls_expired": AlertDefaults({"for": Duration.parse("0s")}),
}
# What each alert means and what to look at first (the runbooks dashboard).
RUNBOOKS = {
    "ProbeSlow": Runbook(
        "The probed URL answers, but slower than the threshold.",
        ("Response time on the Status page: one URL or all of them (then the network or the prober)?",
         "The service's own latency panels, if it is one of ours.")),
    "CertificateExpired": Runbook(
        "The TLS certificate of the probed URL has expired: browsers and clients refuse the connection now.",
        ("Renew and deploy it at once; then find why automatic renewal (certbot, ACME) did not: its logs and timer.",
         "A load balancer or CDN in front may still serve an old certificate after the renewal: check what "
         "`openssl s_client -connect host:443 -servername host` shows.")),
    "CertificateExpiresSoon": Runbook(
        "The TLS certificate of the probed URL expires within the threshold; browsers will refuse it then.",
        ("Renew it, or check why automatic renewal (certbot, ACME) did not: its logs and timer.",
         "The expiry per URL on the Status page.")),
}


def dashboard(service: Service) -> str:
    return f"vigil-probes?var-service={service.name}"


def plan(service: Service, ctx: Context) -> ServicePlan:
    params, disabled, _ = alert_params(ALERTS, service.alerts)
    labels = target_labels(service)
    out = ServicePlan(probes=[Probe(service.url, labels)])
    dash, name = dashboard(service), service.name
    series = {"job": PROBE_JOB, "instance": service.url, **labels}
    sel = f'{{job="{PROBE_JOB}",service="{name}"}}'
    rules, tests = [], []
    if "down" not in disabled:
        for_ = params["down"]["for"]
        alert = Alert("ServiceDown", f"probe_success{sel} == 0", for_, {**service_labels(service), "severity": "critical"},
                      annotations(ctx, service, dash, "ServiceDown", f"{name} is down",
                                  f"{service.url} has failed every probe for more than {for_} "
                                  f"(no answer, or not a 2xx)."))
        rules.append(alert)
        tests += [silent_test("ServiceDown: quiet while up", alert.name,
                              [(selector("probe_success", series), "1x{n}")], ctx.timing, for_),
                  firing_tests("ServiceDown: fires when the probe fails", [alert],
                               [(selector("probe_success", series), "0x{n}")], series, 0, ctx.timing)]
    if "slow" not in disabled:
        p = params["slow"]
        levels = [Level("warning", p["warning"].seconds, str(p["warning"]))]
        alerts = threshold_alerts("ProbeSlow", steady(f"probe_duration_seconds{sel}", ctx.timing), levels, p["for"],
                                  service_labels(service),
                                  lambda lv: annotations(ctx, service, dash, "ProbeSlow",
                                                         f"{name} answers slowly: {{{{ $value | humanizeDuration }}}}",
                                                         f"{service.url} took {{{{ $value | humanizeDuration }}}} to "
                                                         f"answer (above {lv.text} for {p['for']})."))
        rules += alerts
        tests += threshold_tests(alerts, levels, lambda v: [(selector("probe_duration_seconds", series), f"{v}x{{n}}")],
                                 series, ctx.timing, gap=True)
    if service.url.startswith("https://") and "tls_expiry" not in disabled:
        p = params["tls_expiry"]
        levels = [Level(s, p[s].seconds, str(p[s])) for s in ("warning", "critical")]
        # The highest of the window: one probe answered by a stale backend does not fire it.
        expiry = steady(f"probe_ssl_earliest_cert_expiry{sel}", ctx.timing, falling=True)
        alerts = threshold_alerts("CertificateExpiresSoon", f"{expiry} - time() > 0 and {expiry} - time()",
                                  levels, p["for"], service_labels(service),
                                  lambda lv: annotations(ctx, service, dash, "CertificateExpiresSoon",
                                                         f"{name}: TLS certificate expires in "
                                                         f"{{{{ $value | humanizeDuration }}}}",
                                                         f"The certificate of {service.url} expires in "
                                                         f"{{{{ $value | humanizeDuration }}}} ({lv.severity} below "
                                                         f"{lv.text}). Renew it."), falling=True)
        rules += alerts
        # The series holds the expiry timestamp; the test reads it at a known time (a sample's).
        clock = ctx.timing.every_evaluation()
        tests += threshold_tests(alerts, levels, lambda v: [(selector("probe_ssl_earliest_cert_expiry", series),
                                                             f"{v!r}+{clock.scrape.seconds:g}x{{n}}")],
                                 series, clock, falling=True)
    if service.url.startswith("https://") and "tls_expired" not in disabled:
        for_ = params["tls_expired"]["for"]
        expiry = latest(f"probe_ssl_earliest_cert_expiry{sel}", ctx.timing)
        alert = Alert("CertificateExpired", f"{expiry} - time() <= 0", for_,
                      {**service_labels(service), "severity": "critical"},
                      annotations(ctx, service, dash, "CertificateExpired", f"{name}: TLS certificate expired",
                                  f"The certificate of {service.url} has expired: clients refuse it. Renew it now."))
        rules.append(alert)
        sel_ = selector("probe_ssl_earliest_cert_expiry", series)
        day = 86400
        tests += [silent_test("CertificateExpired: quiet while valid", alert.name, [(sel_, f"{day}+{ctx.timing.scrape.seconds:g}x{{n}}")],
                              ctx.timing, for_),
                  firing_tests("CertificateExpired: fires once expired", [alert], [(sel_, "0x{n}")], series, None,
                               ctx.timing)]
    return finish(out, service, ctx, dash, rules, tests)
