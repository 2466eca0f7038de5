"""DORA metrics (uid vigil-dora): a team's four keys over 7 or 30 days, each coloured by
the band of the DORA report it falls in, then the same per service (drill down with the
`service` variable). Reads only the recorded series of dora.py."""

from __future__ import annotations

from .. import dora
from ..inventory import Inventory
from ..units import Duration
from .builder import GREEN, ORANGE, RED, Column, Dashboard, Row, Target, Thresholds, Variable, stat, table, text, \
    value_map
from .common import nav, tags

UID = "vigil-dora"
BAND_COLOURS = (GREEN, "#73BF69", ORANGE, RED)     # elite, high, medium, low
FREQUENCY_BAND = value_map({str(v): (t, c) for (v, t, _), c in zip(dora.FREQUENCY_BANDS, BAND_COLOURS)})


def _rising(bands) -> Thresholds:
    """Lower is better: elite below the first edge, then each band up to the next."""
    edges = [edge for _, _, edge in bands if edge is not None]
    return Thresholds(tuple((e, c) for e, c in zip(edges, BAND_COLOURS[1:])), BAND_COLOURS[0])


# Deploys a day: red under monthly, orange from monthly, light green from weekly, green from daily.
FREQUENCY = Thresholds(tuple((edge, colour) for (_, _, edge), colour in
                             reversed(list(zip(dora.FREQUENCY_BANDS[:-1], BAND_COLOURS[:-1])))), RED)


def _legend() -> str:
    rows = ["| key | elite | high | medium | low |", "|---|---|---|---|---|",
            "| deployment frequency | " + " | ".join(t for _, t, _ in dora.FREQUENCY_BANDS) + " |",
            *(f"| {key} | " + " | ".join(t for _, t, _ in bands) + " |"
              for key, bands in (("lead time for changes", dora.LEAD_TIME_BANDS),
                                 ("change failure rate", dora.FAILURE_BANDS),
                                 ("time to restore", dora.RESTORE_BANDS)))]
    return ("Bands of the DORA report; colours: elite green, high light green, medium orange, low red. "
            "How each figure is computed: README, *DORA metrics*.\n\n" + "\n".join(rows))


def keys(level: str, sel: str, title: str, failure_window: Duration) -> Row:
    """The four keys of a team (level team) or of the services the `service` variable picks."""
    def series(template: str) -> str:
        return dora.name(template, level) + "$window" + f"{{{sel}}}"

    no = "No deploys recorded"
    return Row(title, (
        stat("Deploys per day", Target(series(dora.FREQUENCY)), decimals=2, thresholds=FREQUENCY, no_value=no,
             description="Deploys in the window / its days"),
        stat("Frequency band", Target(series(dora.BAND)), mappings=(FREQUENCY_BAND,), no_value=no,
             description="on demand: at least daily; weekly: at least weekly; monthly: at least monthly"),
        stat("Lead time (median)", Target(series(dora.LEAD)), unit="s", thresholds=_rising(dora.LEAD_TIME_BANDS),
             no_value="No commit times recorded", description="Median of deploy time - commit time"),
        stat("Change failure rate", Target(series(dora.CFR)), unit="percentunit", decimals=1,
             thresholds=_rising(dora.FAILURE_BANDS), no_value=no,
             description=f"Deploys failed, rolled back, or followed within {failure_window} by a critical "
                         f"alert of their service, over all deploys"),
        stat("Time to restore (median)", Target(series(dora.RESTORE)), unit="s",
             thresholds=_rising(dora.RESTORE_BANDS), no_value="No incidents",
             description="Median duration of the incidents (a critical alert firing) that ended in the window"),
        stat("Deploys", Target(series(dora.DEPLOYS)), no_value=no, width=4),
    ))


def dashboard(inventory: Inventory) -> Dashboard:
    team = Variable.custom("team", [t.name for t in inventory.teams])
    failure_window = inventory.stack.dora.failure_window
    window = Variable.custom("window", [str(w) for w in dora.WINDOWS])
    service = Variable.from_query("service", f'label_values({dora.DEPLOY_TIME}{{team="$team"}}, service)',
                                  multi=True, include_all=True)
    per_service = table("Services", [
        Column("Deploys per day", dora.name(dora.FREQUENCY, "service") + '$window{team="$team"}', decimals=2,
               thresholds=FREQUENCY),
        Column("Lead time", dora.name(dora.LEAD, "service") + '$window{team="$team"}', unit="s",
               thresholds=_rising(dora.LEAD_TIME_BANDS)),
        Column("Change failure rate", dora.name(dora.CFR, "service") + '$window{team="$team"}',
               unit="percentunit", decimals=1, thresholds=_rising(dora.FAILURE_BANDS)),
        Column("Time to restore", dora.name(dora.RESTORE, "service") + '$window{team="$team"}', unit="s",
               thresholds=_rising(dora.RESTORE_BANDS)),
    ], ["service"], label_titles={"service": "Service"}, no_value="No deploys recorded for this team", height=8,
        description="Every service of the team that deployed in the window")
    return Dashboard(
        uid=UID, title="DORA metrics", tags=tags("dora"), time_from="now-30d", refresh="5m", links=nav(),
        description="Deployment frequency, lead time, change failure rate and time to restore, from the deploys "
                    "`vigil deploy` records and the critical alerts that fired",
        variables=(team, window, service),
        rows=(keys("team", 'team="$team"', "Team $team over $window", failure_window),
              Row("Per service", (per_service,)),
              keys("service", 'team="$team",service=~"$service"', "$service over $window", failure_window),
              Row("The bands", (text("DORA bands", _legend(), width=24, height=7),))))
