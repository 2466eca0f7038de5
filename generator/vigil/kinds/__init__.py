"""One module per service kind: what Vigil knows about watching it.

Each module has NAME, FIELDS (which service fields it takes), ALERTS (its
overridable alerts and their defaults), dashboard(service) and plan(service, ctx);
RUNBOOKS (what each of its own alerts means) where it has alerts of its own.
"""

from ..runbooks import all_runbooks
from . import host, http, job, mysql, nginx, postgres, probe, redis

KINDS = {m.NAME: m for m in (http, job, postgres, mysql, redis, nginx, host, probe)}

# Every alertname Vigil renders itself (a test checks this against the plans): the
# ones with a runbook, shared or of a kind. The inventory's own rules may not take them.
BUILTIN_ALERTNAMES = frozenset(all_runbooks())


def alert_specs(service) -> dict:
    """The overridable alerts of the service's kind, as they apply to it (a kind may narrow them)."""
    kind = KINDS[service.kind]
    return kind.alerts_for(service) if hasattr(kind, "alerts_for") else kind.ALERTS
