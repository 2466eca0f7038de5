"""Typed helpers for Grafana dashboards: small frozen dataclasses that turn into
the classic dashboard JSON model (schemaVersion SCHEMA_VERSION) of the pinned
Grafana. Dashboards are code; nothing here is hand-written JSON.

A Dashboard holds Rows of Panels; ids and grid positions are assigned when it
is turned into a dict, so modules only say what to show, in reading order.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Optional, Sequence

from .datasources import DATASOURCE_VARIABLE, GRAFANA, LOKI, PROMETHEUS, PROMETHEUS_UID

# The Grafana build Vigil renders for: grafana/grafana (the grafana-oss image
# stopped receiving releases with 12.4/13.0). Its dashboard JSON model is at
# schemaVersion 42 (public/app/features/dashboard/state/DashboardMigrator.ts at v13.2.1);
# a lower version would be migrated on every load, a higher one is unknown to it.
GRAFANA_VERSION = "13.2.1"
GRAFANA_IMAGE = f"grafana/grafana:{GRAFANA_VERSION}"
SCHEMA_VERSION = 42

GRID_WIDTH = 24

# Grafana unit ids Vigil's own panels use (a test keeps them to this list).
UNITS = frozenset({"short", "none", "percent", "percentunit", "reqps", "ops", "s", "ms", "dtdurations",
                   "bytes", "decbytes", "Bps", "binBps", "dateTimeAsIso", "dateTimeFromNow", "bool_on_off"})

GREEN, ORANGE, RED = "green", "orange", "red"


# ---------------------------------------------------------------- queries


@dataclass(frozen=True)
class Target:
    """One query of a panel: PromQL (or LogQL) and how its series are named."""
    expr: str
    legend: str = ""
    instant: bool = False        # one value per series (stat, table), not a range
    format: str = ""             # Grafana's "table" (labels become columns) or "heatmap" (buckets by le)
    datasource: dict = field(default_factory=lambda: PROMETHEUS)
    # Grafana's "Min step": no step shorter, and $__rate_interval at least four of it. For series recorded
    # less often than they are scraped, so that no step falls between two of their samples.
    interval: str = ""

    def to_dict(self, ref_id: str) -> dict:
        out = {"datasource": self.datasource, "expr": self.expr, "refId": ref_id, "editorMode": "code",
               "range": not self.instant, "instant": self.instant}
        if self.interval:
            out["interval"] = self.interval
        if self.legend:
            out["legendFormat"] = self.legend
        if self.format:
            out["format"] = self.format
        if self.datasource["type"] == LOKI["type"]:
            out["queryType"] = "instant" if self.instant else "range"
        return out


def ref_id(i: int) -> str:
    return chr(ord("A") + i) if i < 26 else f"Q{i}"


# ---------------------------------------------------------------- field options


@dataclass(frozen=True)
class Thresholds:
    """Colour steps: `base` below the first value, then (value, colour) upwards; in `percentage`
    mode the values are percents of the field's range (its min to max, Grafana's "Thresholds mode")."""
    steps: tuple[tuple[float, str], ...] = ()
    base: str = GREEN
    mode: str = "absolute"                # or "percentage"

    @classmethod
    def rising(cls, warning: Optional[float] = None, critical: Optional[float] = None) -> "Thresholds":
        """Green, orange from `warning`, red from `critical`: higher is worse."""
        steps = tuple((v, c) for v, c in ((warning, ORANGE), (critical, RED)) if v is not None)
        return cls(steps, GREEN)

    @classmethod
    def falling(cls, warning: Optional[float] = None, critical: Optional[float] = None) -> "Thresholds":
        """Red below `critical`, orange below `warning`, green above: lower is worse
        (with a critical level alone, green from it)."""
        steps = tuple((v, c) for v, c in ((critical, ORANGE if warning is not None else GREEN), (warning, GREEN))
                      if v is not None)
        return cls(steps, RED if critical is not None else ORANGE)

    def to_dict(self) -> dict:
        return {"mode": self.mode,
                "steps": [{"color": self.base, "value": None}] + [{"color": c, "value": v} for v, c in self.steps]}


def value_map(mapping: dict) -> dict:
    """{"0": ("DOWN", "red"), ...} -> one Grafana value mapping."""
    return {"type": "value", "options": {k: {"text": text, "color": color, "index": i}
                                         for i, (k, (text, color)) in enumerate(mapping.items())}}


UP_DOWN = value_map({"0": ("DOWN", RED), "1": ("UP", GREEN)})


@dataclass(frozen=True)
class Link:
    """A link: at the top of a dashboard, on a panel, or on a table cell (data link)."""
    title: str
    url: str
    tooltip: str = ""
    keep_time: bool = True
    include_vars: bool = False
    new_tab: bool = False

    def dashboard_link(self) -> dict:
        return {"title": self.title, "type": "link", "url": self.url, "tooltip": self.tooltip, "icon": "dashboard",
                "keepTime": self.keep_time, "includeVars": self.include_vars, "targetBlank": self.new_tab,
                "asDropdown": False, "tags": []}

    def data_link(self) -> dict:
        return {"title": self.title, "url": self.url, "targetBlank": self.new_tab}

    def panel_link(self) -> dict:
        """A panel's own link: the dashboard model types them as dashboard links."""
        return {**self.dashboard_link(), "icon": "external link"}


@dataclass(frozen=True)
class DashboardList:
    """A dropdown of every dashboard carrying `tag`."""
    title: str
    tag: str

    def dashboard_link(self) -> dict:
        return {"title": self.title, "type": "dashboards", "tags": [self.tag], "asDropdown": True,
                "keepTime": True, "includeVars": False, "targetBlank": False, "icon": "external link",
                "tooltip": "", "url": ""}


# ---------------------------------------------------------------- panels


@dataclass(frozen=True)
class Panel:
    type: str                            # timeseries, stat, gauge, bargauge, table, logs, text
    title: str
    targets: tuple[Target, ...]
    unit: str = "short"
    description: str = ""
    thresholds: Optional[Thresholds] = None
    mappings: tuple[dict, ...] = ()
    links: tuple[Link, ...] = ()         # panel links (top-left menu)
    data_links: tuple[Link, ...] = ()    # on every value
    width: int = 8
    height: int = 8
    min: Optional[float] = None
    max: Optional[float] = None
    decimals: Optional[int] = None
    no_value: str = ""                   # shown instead of "No data"
    options: dict = field(default_factory=dict)
    custom: dict = field(default_factory=dict)
    overrides: tuple[dict, ...] = ()
    transformations: tuple[dict, ...] = ()
    id: Optional[int] = None             # a fixed id links may name (viewPanel); else counted by the layout

    def __post_init__(self):
        if not 0 < self.width <= GRID_WIDTH or self.height < 1:
            raise ValueError(f"panel {self.title!r}: width 1..{GRID_WIDTH}, height >= 1")
        if not self.targets and self.type != "text":
            raise ValueError(f"panel {self.title!r} has no query")

    def sized(self, width: int, height: Optional[int] = None) -> "Panel":
        return replace(self, width=width, height=height or self.height)

    def to_dict(self, panel_id: int, x: int, y: int) -> dict:
        defaults = {"unit": self.unit, "mappings": list(self.mappings),
                    "links": [link.data_link() for link in self.data_links],
                    "thresholds": (self.thresholds or Thresholds()).to_dict()}
        if self.type == "timeseries":
            defaults["color"] = {"mode": "palette-classic"}
        elif self.thresholds is not None:
            defaults["color"] = {"mode": "thresholds"}
        for key, value in (("min", self.min), ("max", self.max), ("decimals", self.decimals)):
            if value is not None:
                defaults[key] = value
        if self.no_value:
            defaults["noValue"] = self.no_value
        if self.custom:
            defaults["custom"] = dict(self.custom)
        out = {
            "id": panel_id, "type": self.type, "title": self.title, "description": self.description,
            "gridPos": {"h": self.height, "w": self.width, "x": x, "y": y},
            "targets": [t.to_dict(ref_id(i)) for i, t in enumerate(self.targets)],
            "fieldConfig": {"defaults": defaults, "overrides": list(self.overrides)},
            "options": {**_OPTIONS.get(self.type, {}), **self.options},
            "links": [link.panel_link() for link in self.links],
            "transformations": list(self.transformations),
        }
        if self.targets:
            out["datasource"] = self.targets[0].datasource
        return out


_REDUCE = {"calcs": ["lastNotNull"], "fields": "", "values": False}
_OPTIONS = {
    "timeseries": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True, "calcs": []},
                   "tooltip": {"mode": "multi", "sort": "desc"}},
    "stat": {"reduceOptions": _REDUCE, "colorMode": "value", "graphMode": "area", "justifyMode": "auto",
             "orientation": "auto", "textMode": "auto", "showPercentChange": False,
             "percentChangeColorMode": "standard", "wideLayout": True},
    "gauge": {"reduceOptions": _REDUCE, "orientation": "auto", "showThresholdLabels": False,
              "showThresholdMarkers": True, "shape": "gauge", "barShape": "flat", "barWidthFactor": 0.5,
              "effects": {}, "segmentCount": 1, "segmentSpacing": 0.3, "minVizHeight": 75, "minVizWidth": 75,
              "sizing": "auto"},
    "bargauge": {"reduceOptions": _REDUCE, "orientation": "horizontal", "displayMode": "gradient",
                 "showUnfilled": True, "valueMode": "color", "namePlacement": "auto", "sizing": "auto",
                 "maxVizHeight": 300, "minVizHeight": 16, "minVizWidth": 8,
                 "legend": {"showLegend": False, "displayMode": "list", "placement": "bottom", "calcs": []}},
    "table": {"showHeader": True, "cellHeight": "sm", "frameIndex": 0},
    "logs": {"showTime": True, "wrapLogMessage": True, "sortOrder": "Descending", "enableLogDetails": True,
             "dedupStrategy": "none", "prettifyLogMessage": False, "showCommonLabels": False, "showLabels": False,
             "showLogContextToggle": False},
}
# The field options Grafana's table plugin requires of every column.
TABLE_CUSTOM = {"align": "auto", "cellOptions": {"type": "auto"}, "inspect": False}


def timeseries(title: str, *targets: Target, unit: str = "short", thresholds: Optional[Thresholds] = None,
               stack: bool = False, **kw) -> Panel:
    custom = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10, "showPoints": "never",
              "spanNulls": False, "stacking": {"mode": "normal" if stack else "none", "group": "A"}}
    if thresholds is not None:
        custom["thresholdsStyle"] = {"mode": "line+area" if thresholds.steps else "off"}
    return Panel("timeseries", title, tuple(targets), unit=unit, thresholds=thresholds, custom=custom, **kw)


def stat(title: str, *targets: Target, unit: str = "short", sparkline: bool = False, **kw) -> Panel:
    """The latest value; with `sparkline`, a range query draws its history behind it."""
    return Panel("stat", title, tuple(t if sparkline else _instant(t) for t in targets), unit=unit,
                 width=kw.pop("width", 4), height=kw.pop("height", 4), **kw)


def gauge(title: str, *targets: Target, unit: str = "short", **kw) -> Panel:
    return Panel("gauge", title, tuple(_instant(t) for t in targets), unit=unit, width=kw.pop("width", 4),
                 height=kw.pop("height", 4), **kw)


def bargauge(title: str, *targets: Target, unit: str = "short", **kw) -> Panel:
    return Panel("bargauge", title, tuple(_instant(t) for t in targets), unit=unit, **kw)


def logs(title: str, target: Target, **kw) -> Panel:
    """Log lines of a LogQL log query, newest first."""
    return Panel("logs", title, (target,), width=kw.pop("width", GRID_WIDTH), height=kw.pop("height", 12), **kw)


def heatmap(title: str, expr: str, unit: str = "s", **kw) -> Panel:
    """A histogram's buckets over time: `expr` gives one series per `le` (a rate by le)."""
    options = {"calculate": False, "cellGap": 1, "yAxis": {"axisPlacement": "left", "unit": unit},
               "color": {"mode": "scheme", "scheme": "Oranges", "fill": "dark-orange", "scale": "exponential",
                         "exponent": 0.5, "steps": 64, "reverse": False},
               "exemplars": {"color": "rgba(255,0,255,0.7)"}, "filterValues": {"le": 1e-9},
               "legend": {"show": True}, "rowsFrame": {"layout": "auto"}, "showValue": "never",
               "tooltip": {"mode": "single", "yHistogram": True, "showColorScale": False}}
    return Panel("heatmap", title, (Target(expr, "{{le}}", format="heatmap"),), unit="short", options=options,
                 custom={"hideFrom": {"legend": False, "tooltip": False, "viz": False},
                         "scaleDistribution": {"type": "linear"}}, **kw)


def text(title: str, markdown: str, **kw) -> Panel:
    """Markdown, no query (runbooks, help)."""
    return Panel("text", title, (), options={"mode": "markdown", "content": markdown,
                                             "code": {"language": "plaintext", "showLineNumbers": False,
                                                      "showMiniMap": False}}, **kw)


def _instant(t: Target) -> Target:
    return replace(t, instant=True)


# ---------------------------------------------------------------- tables from instant queries


@dataclass(frozen=True)
class Column:
    """A value column of a table: one instant query, merged with the others on their labels."""
    title: str
    expr: str
    unit: str = "short"
    thresholds: Optional[Thresholds] = None
    mappings: tuple[dict, ...] = ()
    decimals: Optional[int] = None


def table(title: str, columns: Sequence[Column], labels: Sequence[str], *, hidden: Sequence[str] = (),
          label_titles: Optional[dict] = None, links: Optional[dict] = None, **kw) -> Panel:
    """One row per label set: the `labels` (in order) then each column's value.
    `hidden` labels stay in the data (for data links: ${__data.fields.<label>}) but are not shown;
    `links`: label -> Link on that label's cells."""
    label_titles, links = label_titles or {}, links or {}
    value = (lambda i: "Value") if len(columns) == 1 else (lambda i: f"Value #{ref_id(i)}")
    keep = [*labels, *hidden, *(value(i) for i in range(len(columns)))]
    rename = {**{label: label_titles[label] for label in labels if label in label_titles},
              **{value(i): c.title for i, c in enumerate(columns)}}
    order = {name: i for i, name in enumerate(keep)}
    transformations = (
        {"id": "merge", "options": {}},
        {"id": "filterFieldsByName", "options": {"include": {"names": keep}}},
        {"id": "organize", "options": {"excludeByName": {}, "indexByName": order, "renameByName": rename}},
    )
    overrides = []
    for c in columns:
        props = [{"id": "unit", "value": c.unit}]
        if c.thresholds is not None:
            props += [{"id": "thresholds", "value": c.thresholds.to_dict()},
                      {"id": "custom.cellOptions", "value": {"type": "color-text"}}]
        if c.mappings:
            props.append({"id": "mappings", "value": list(c.mappings)})
            if c.thresholds is None:     # the mapping's own colours
                props.append({"id": "custom.cellOptions", "value": {"type": "color-background"}})
        if c.decimals is not None:
            props.append({"id": "decimals", "value": c.decimals})
        overrides.append(_by_name(c.title, props))
    for label in hidden:
        overrides.append(_by_name(label, [{"id": "custom.hideFrom",
                                           "value": {"viz": True, "legend": False, "tooltip": False}}]))
    for label, link in links.items():
        overrides.append(_by_name(label_titles.get(label, label), [{"id": "links", "value": [link.data_link()]}]))
    targets = tuple(Target(c.expr, instant=True, format="table") for c in columns)
    return Panel("table", title, targets, overrides=tuple(overrides), transformations=transformations,
                 custom={**TABLE_CUSTOM, **kw.pop("custom", {})},
                 width=kw.pop("width", GRID_WIDTH), height=kw.pop("height", 10), **kw)


def _by_name(name: str, properties: list) -> dict:
    return {"matcher": {"id": "byName", "options": name}, "properties": properties}


# ---------------------------------------------------------------- template variables


@dataclass(frozen=True)
class Variable:
    """A template variable: `query` (values from PromQL label_values), `custom` (a fixed list),
    `datasource` (a choice among the data sources of one type) or `textbox` (free text,
    `query` its default)."""
    name: str
    kind: str                            # query, custom, datasource, textbox
    query: str
    label: str = ""
    multi: bool = False
    include_all: bool = False
    all_value: str = ".*"                # what $name becomes for "All": a regex for =~
    hide: bool = False
    default: str = ""                    # a datasource variable's uid until one is picked

    @classmethod
    def from_query(cls, name: str, query: str, **kw) -> "Variable":
        return cls(name, "query", query, **kw)

    @classmethod
    def custom(cls, name: str, values: Sequence[str], **kw) -> "Variable":
        if any("," in v for v in values):
            raise ValueError(f"variable {name}: values may not contain ','")
        return cls(name, "custom", ",".join(values), **kw)

    @classmethod
    def textbox(cls, name: str, default: str = "", **kw) -> "Variable":
        return cls(name, "textbox", default, **kw)

    @classmethod
    def datasource(cls, name: str, plugin: str, **kw) -> "Variable":
        return cls(name, "datasource", plugin, **kw)

    @property
    def values(self) -> list[str]:
        return self.query.split(",") if self.kind == "custom" else []

    def to_dict(self) -> dict:
        out = {"name": self.name, "label": self.label or self.name.capitalize(), "type": self.kind,
               "query": self.query, "multi": self.multi, "includeAll": self.include_all,
               "hide": 2 if self.hide else 0, "skipUrlSync": False, "current": {}, "options": []}
        if self.include_all:
            out["allValue"] = self.all_value
            out["current"] = ({"selected": True, "text": ["All"], "value": ["$__all"]} if self.multi
                              else {"selected": True, "text": "All", "value": "$__all"})
        if self.kind == "query":
            out.update(datasource=PROMETHEUS, refresh=2, regex="", sort=1)
        elif self.kind == "custom":
            out["options"] = ([{"selected": self.include_all, "text": "All", "value": "$__all"}] if self.include_all
                              else []) + [{"selected": not self.include_all and i == 0, "text": v, "value": v}
                                          for i, v in enumerate(self.values)]
            if not self.include_all and self.values:
                out["current"] = {"selected": True, "text": self.values[0], "value": self.values[0]}
        elif self.kind == "textbox":
            out["current"] = {"text": self.query, "value": self.query}
            out["options"] = [{"selected": True, "text": self.query, "value": self.query}]
        else:
            out.update(refresh=1, regex="", current={"selected": True, "text": self.label or "Prometheus",
                                                     "value": self.default})
        return out


# ---------------------------------------------------------------- annotations


# Every dashboard's first variable: which Prometheus its panels and variables read.
PROMETHEUS_VARIABLE = Variable.datasource(DATASOURCE_VARIABLE, "prometheus", label="Prometheus",
                                          default=PROMETHEUS_UID)


@dataclass(frozen=True)
class TagAnnotations:
    """Grafana's own annotations carrying every one of `tags` (deploy markers)."""
    name: str
    tags: tuple[str, ...]
    color: str = "rgba(0, 211, 255, 1)"

    def to_dict(self) -> dict:
        return {"name": self.name, "datasource": GRAFANA, "enable": True, "hide": False, "iconColor": self.color,
                "target": {"type": "tags", "tags": list(self.tags), "matchAny": False, "limit": 100}}


BUILT_IN_ANNOTATIONS = {"builtIn": 1, "name": "Annotations & Alerts", "datasource": GRAFANA, "enable": True,
                        "hide": True, "iconColor": "rgba(0, 211, 255, 1)", "type": "dashboard",
                        "target": {"type": "dashboard", "limit": 100, "matchAny": False, "tags": []}}


# ---------------------------------------------------------------- rows and dashboards


@dataclass(frozen=True)
class Row:
    title: str
    panels: tuple[Panel, ...]
    collapsed: bool = False


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    rows: tuple[Row, ...]
    description: str = ""
    tags: tuple[str, ...] = ()
    variables: tuple[Variable, ...] = ()
    links: tuple = ()                    # Link | DashboardList
    annotations: tuple[TagAnnotations, ...] = ()
    time_from: str = "now-6h"
    refresh: str = "30s"

    def __post_init__(self):
        if not 0 < len(self.uid) <= 40:
            raise ValueError(f"dashboard uid {self.uid!r}: Grafana takes 1 to 40 characters")

    def to_dict(self) -> dict:
        return {
            "uid": self.uid, "title": self.title, "description": self.description, "tags": list(self.tags),
            "schemaVersion": SCHEMA_VERSION, "editable": False, "graphTooltip": 1, "timezone": "browser",
            "fiscalYearStartMonth": 0, "liveNow": False, "weekStart": "",
            "time": {"from": self.time_from, "to": "now"}, "timepicker": {}, "refresh": self.refresh,
            "templating": {"list": [v.to_dict() for v in (PROMETHEUS_VARIABLE, *self.variables)]},
            "annotations": {"list": [BUILT_IN_ANNOTATIONS] + [a.to_dict() for a in self.annotations]},
            "links": [link.dashboard_link() for link in self.links],
            "panels": layout(self.rows),
        }


def layout(rows: Sequence[Row]) -> list[dict]:
    """Panels in reading order: each row a full-width header, its panels left to right,
    wrapping at the grid's width; ids count up from 1 (but for a panel's fixed one)."""
    out, y, next_id, fixed = [], 0, 1, set()
    for row in rows:
        header = {"id": next_id, "type": "row", "title": row.title, "collapsed": row.collapsed,
                  "gridPos": {"h": 1, "w": GRID_WIDTH, "x": 0, "y": y}, "panels": []}
        next_id += 1
        y += 1
        out.append(header)
        top, x, line = y, 0, 0
        for panel in row.panels:
            if x + panel.width > GRID_WIDTH:
                x, y, line = 0, y + line, 0
            pid = panel.id or next_id
            if pid in fixed or (panel.id is not None and panel.id < next_id):
                raise ValueError(f"panel {panel.title!r}: id {pid} is taken")
            placed = panel.to_dict(pid, x, y)
            if panel.id is None:
                next_id += 1
            else:
                fixed.add(pid)
            (header["panels"] if row.collapsed else out).append(placed)
            x += panel.width
            line = max(line, panel.height)
        y = top if row.collapsed else y + line    # a collapsed row's panels take no room until opened
    return out
