"""Build dashboards/drift.json from code, with Grafana's own model of the dashboard schema.

    .venv/bin/python prometheus/grafana/build_dashboard.py     # rewrites dashboards/drift.json

The JSON is generated, never edited by hand: the builders of grafana-foundation-sdk (generated
by Grafana from its schema, for Grafana 10.4) only let valid fields through, and a test checks
that the shipped file is what this script writes. Each row is one function; to add panels, add
to a row or add a row to ROWS.

Every query names the datasource through the variable ``$datasource``: imported through
Grafana's UI, the dashboard asks for a Prometheus datasource (``__inputs``); provisioned, the
variable takes the first (or default) Prometheus datasource.
"""

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import (
    bargauge,
    common,
    prometheus,
    stat,
    statetimeline,
    timeseries,
)
from grafana_foundation_sdk.builders import dashboard as builder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models.common import (
    BarGaugeDisplayMode,
    BigValueColorMode,
    BigValueGraphMode,
    BigValueTextMode,
    GraphDrawStyle,
    LegendDisplayMode,
    LegendPlacement,
    LineStyle,
    SortOrder,
    StackingMode,
    TooltipDisplayMode,
    VisibilityMode,
)

OUT = Path(__file__).resolve().parent / "dashboards" / "drift.json"
UID = "drift-retrain-bridge"
DATASOURCE = model.DataSourceRef(type_val="prometheus", uid="${datasource}")
# The input Grafana's import asks for; the datasource variable starts on it.
IMPORT_INPUT = "DS_PROMETHEUS"
MODEL = 'model=~"$model"'

Panel = builder.Panel | timeseries.Panel | stat.Panel | bargauge.Panel | statetimeline.Panel


def query(expr: str, legend: str, ref: str = "A", instant: bool = False) -> prometheus.Dataquery:
    """A PromQL target on the dashboard's datasource."""
    target = (
        prometheus.Dataquery().expr(expr).legend_format(legend).ref_id(ref).datasource(DATASOURCE)
    )
    return target.instant() if instant else target.range()


def size(panel: Any, title: str, description: str, height: int, width: int) -> Any:
    """Common settings of every panel: title, description, datasource, size (placed in order)."""
    return (
        panel.title(title)
        .description(description)
        .datasource(DATASOURCE)
        .grid_pos(model.GridPos(h=height, w=width))
    )


def fixed_color(color: str) -> builder.FieldColor:
    """One colour for every value."""
    return builder.FieldColor().mode(model.FieldColorModeId.FIXED).fixed_color(color)


def thresholds(*steps: tuple[float | None, str]) -> builder.ThresholdsConfig:
    """Absolute colour steps, the first from -infinity (``None``)."""
    return (
        builder.ThresholdsConfig()
        .mode(model.ThresholdsMode.ABSOLUTE)
        .steps([model.Threshold(value=value, color=color) for value, color in steps])
    )


def value_text(mapping: dict[str, tuple[str, str]]) -> list[model.ValueMapping]:
    """Values shown as words in their colours: {"1": ("pending", "orange")}."""
    options = {
        value: model.ValueMappingResult(text=text, color=color, index=index)
        for index, (value, (text, color)) in enumerate(mapping.items())
    }
    return [model.ValueMap(options=options)]


def last_value() -> common.ReduceDataOptions:
    """Show the latest value of each series."""
    return common.ReduceDataOptions().calcs(["lastNotNull"]).values(False).fields("")


# -- rows ------------------------------------------------------------------------------------


def drift_row() -> tuple[builder.Row, list[Panel]]:
    """What both `simulate` and `watch` publish: the score, the threshold, the alert."""
    score = size(
        timeseries.Panel(),
        "Drift score per model",
        "drift_score from the exporter, one line per model. The dashed red line is the alert "
        "threshold, read from the recording rule drift:threshold (prometheus/rules/"
        "drift.rules.yml).",
        9,
        16,
    )
    score = (
        score.with_target(query(f"drift_score{{{MODEL}}}", "{{model}}"))
        .with_target(query("drift:threshold", "threshold", "B"))
        .min(0)
        .decimals(3)
        .line_width(2)
        .show_points(VisibilityMode.AUTO)
        .legend(
            common.VizLegendOptions()
            .display_mode(LegendDisplayMode.TABLE)
            .placement(LegendPlacement.BOTTOM)
            .show_legend(True)
            .calcs(["lastNotNull", "max"])
        )
        .tooltip(common.VizTooltipOptions().mode(TooltipDisplayMode.MULTI).sort(SortOrder.NONE))
        .override_by_name(
            "threshold",
            [
                model.DynamicConfigValue(
                    id_val="color", value={"mode": "fixed", "fixedColor": "red"}
                ),
                model.DynamicConfigValue(
                    id_val="custom.lineStyle",
                    value=LineStyle(fill="dash", dash=[10, 10]),
                ),
                model.DynamicConfigValue(id_val="custom.lineWidth", value=2),
            ],
        )
    )
    # Relative to the threshold, so the colours follow drift:threshold wherever it is set.
    against = size(
        bargauge.Panel(),
        "Latest drift score, share of the threshold",
        "drift_score / drift:threshold: red from 100 % (the alert's threshold, wherever "
        "drift:threshold sets it).",
        9,
        8,
    )
    against = (
        against.with_target(
            query(f"drift_score{{{MODEL}}} / scalar(drift:threshold)", "{{model}}", instant=True)
        )
        .unit("percentunit")
        .min(0)
        .max(2)
        .decimals(0)
        .thresholds(thresholds((None, "green"), (1, "red")))
        .color_scheme(builder.FieldColor().mode(model.FieldColorModeId.THRESHOLDS))
        .display_mode(BarGaugeDisplayMode.GRADIENT)
        .reduce_options(last_value())
    )
    alert = size(
        statetimeline.Panel(),
        "Drift alert state",
        "ModelDriftHigh per model: ok (green), pending (orange: above the threshold for less "
        "than the rule's `for`), firing (red: the bridge is told).",
        6,
        24,
    )
    state = 'ALERTS{alertname="ModelDriftHigh", alertstate="%s", ' + MODEL + "}"
    alert = (
        alert.with_target(
            query(
                f"max by (model) ({state % 'firing'}) * 2"
                f" or max by (model) ({state % 'pending'})"
                f" or max by (model) (drift_score{{{MODEL}}}) * 0",
                "{{model}}",
            )
        )
        .mappings(
            value_text({"0": ("ok", "green"), "1": ("pending", "orange"), "2": ("firing", "red")})
        )
        .color_scheme(builder.FieldColor().mode(model.FieldColorModeId.THRESHOLDS))
        .thresholds(thresholds((None, "green")))
        .show_value(VisibilityMode.NEVER)
        .merge_values(True)
    )
    return builder.Row("Drift"), [score, against, alert]


def real_data_row() -> tuple[builder.Row, list[Panel]]:
    """`drift-exporter watch`: which feature moved, and whether the score can be trusted."""
    features = size(
        timeseries.Panel(),
        "Feature drift (which feature moved)",
        "drift_feature_score: each feature's score by each method (--method); the model's "
        "drift_score aggregates the first method's.",
        9,
        16,
    )
    features = (
        features.with_target(
            query(f"drift_feature_score{{{MODEL}}}", "{{model}} {{feature}} ({{method}})")
        )
        .min(0)
        .decimals(3)
        .legend(
            common.VizLegendOptions()
            .display_mode(LegendDisplayMode.TABLE)
            .placement(LegendPlacement.RIGHT)
            .show_legend(True)
            .calcs(["lastNotNull"])
        )
    )
    top = size(
        bargauge.Panel(),
        "Most drifted features now",
        "The ten highest feature scores of the latest window.",
        9,
        8,
    )
    top = (
        top.with_target(
            query(
                f"topk(10, drift_feature_score{{{MODEL}}})",
                "{{model}} {{feature}} ({{method}})",
                instant=True,
            )
        )
        .min(0)
        .decimals(3)
        .color_scheme(fixed_color("blue"))
        .display_mode(BarGaugeDisplayMode.BASIC)
        .reduce_options(last_value())
    )
    unavailable = size(
        statetimeline.Panel(),
        "Score unavailable",
        "drift_score_unavailable: why a model has no drift_score (no_data, window_too_small, "
        "too_few_values); empty while every model is scored.",
        6,
        12,
    )
    unavailable = (
        unavailable.with_target(
            query(f"drift_score_unavailable{{{MODEL}}} == 1", "{{model}}: {{reason}}")
        )
        .mappings(value_text({"1": ("unavailable", "orange")}))
        .show_value(VisibilityMode.AUTO)
        .merge_values(True)
    )
    failing = size(
        statetimeline.Panel(),
        "Input failing",
        "drift_input_failing: the latest current data was refused, by reason; the last good "
        "score stays published. watch's log and /api/status name the file.",
        6,
        12,
    )
    failing = (
        failing.with_target(query(f"drift_input_failing{{{MODEL}}} == 1", "{{model}}: {{reason}}"))
        .mappings(value_text({"1": ("failing", "red")}))
        .show_value(VisibilityMode.AUTO)
        .merge_values(True)
    )
    age = size(
        stat.Panel(),
        "Data age (since the window was last scored)",
        "watch scores only when data arrives: an old age means the data stopped "
        "(DriftScoreStale fires past drift:max_data_age_seconds).",
        5,
        12,
    )
    age = (
        age.with_target(
            query(
                f"time() - (drift_last_computation_timestamp_seconds{{{MODEL}}} > 0)",
                "{{model}}",
                instant=True,
            )
        )
        .unit("s")
        .decimals(0)
        .color_scheme(fixed_color("text"))
        .reduce_options(last_value())
        .graph_mode(BigValueGraphMode.NONE)
        .text_mode(BigValueTextMode.VALUE_AND_NAME)
    )
    rows = size(
        stat.Panel(),
        "Rows in the window",
        "drift_window_rows: rows scored in the current window (below --min-rows, no score).",
        5,
        12,
    )
    rows = (
        rows.with_target(query(f"drift_window_rows{{{MODEL}}}", "{{model}}", instant=True))
        .decimals(0)
        .color_scheme(fixed_color("text"))
        .reduce_options(last_value())
        .graph_mode(BigValueGraphMode.NONE)
        .text_mode(BigValueTextMode.VALUE_AND_NAME)
    )
    return builder.Row("Real data (drift-exporter watch)"), [
        features,
        top,
        unavailable,
        failing,
        age,
        rows,
    ]


def simulation_row() -> tuple[builder.Row, list[Panel]]:
    """`drift-exporter simulate` only: collapsed, so real-data users do not see empty panels."""
    days = size(
        stat.Panel(),
        "Days since reference",
        "Simulated days since each model's reference was set (its last retraining).",
        6,
        12,
    )
    days = (
        days.with_target(query(f"drift_days_since_reference{{{MODEL}}}", "{{model}}", instant=True))
        .decimals(0)
        .reduce_options(last_value())
        .graph_mode(BigValueGraphMode.NONE)
    )
    day = size(stat.Panel(), "Simulated day", "The simulation's current day and its length.", 6, 12)
    day = (
        day.with_target(query("drift_simulation_day", "day", instant=True))
        .with_target(query("drift_simulation_days", "of", "B", instant=True))
        .decimals(0)
        .reduce_options(last_value())
        .graph_mode(BigValueGraphMode.NONE)
    )
    retrainings = size(
        timeseries.Panel(),
        "Retrainings reported to the exporter",
        "Retrainings the simulator was told about (POST /api/models/NAME/retrain), per model.",
        6,
        24,
    )
    retrainings = (
        retrainings.with_target(
            query(f"increase(drift_retrainings_total{{{MODEL}}}[$__rate_interval])", "{{model}}")
        )
        .decimals(0)
        .draw_style(GraphDrawStyle.BARS)
        .fill_opacity(60)
    )
    return builder.Row("Simulation (drift-exporter simulate)").collapsed(True), [
        days,
        day,
        retrainings,
    ]


def bridge_row() -> tuple[builder.Row, list[Panel]]:
    """The bridge: what was dispatched over the dashboard's range, and how the outbox does."""

    def counter(title: str, description: str, expr: str, color: str) -> stat.Panel:
        panel: stat.Panel = size(stat.Panel(), title, description, 4, 6)
        return (
            panel.with_target(query(expr, title, instant=True))
            .decimals(0)
            .color_scheme(fixed_color(color))
            .reduce_options(last_value())
            .color_mode(BigValueColorMode.VALUE)
            .graph_mode(BigValueGraphMode.NONE)
            .text_mode(BigValueTextMode.VALUE)
        )

    def bars(title: str, description: str, expr: str, legend: str) -> timeseries.Panel:
        panel: timeseries.Panel = size(timeseries.Panel(), title, description, 8, 8)
        return (
            panel.with_target(query(expr, legend))
            .decimals(0)
            .draw_style(GraphDrawStyle.BARS)
            .fill_opacity(60)
            .stacking(common.StackingConfig().mode(StackingMode.NORMAL))
        )

    latency = size(
        timeseries.Panel(),
        "Dispatch latency",
        "From the webhook's acknowledgement to the target accepting the dispatch, retries "
        "included.",
        8,
        12,
    )
    bucket = "drift_bridge_dispatch_latency_seconds_bucket[$__rate_interval]"
    latency = (
        latency.with_target(query(f"histogram_quantile(0.5, sum by (le) (rate({bucket})))", "p50"))
        .with_target(query(f"histogram_quantile(0.99, sum by (le) (rate({bucket})))", "p99", "B"))
        .unit("s")
        .span_nulls(True)
    )
    outbox = size(
        timeseries.Panel(),
        "Outbox: pending and oldest age",
        "Dispatches waiting or being sent, and how long the oldest has waited (seconds).",
        8,
        12,
    )
    outbox = (
        outbox.with_target(query("sum(drift_bridge_outbox_pending)", "pending"))
        .with_target(
            query("max(drift_bridge_outbox_oldest_pending_age_seconds)", "oldest age (s)", "B")
        )
        .span_nulls(True)
    )
    panels: list[Panel] = [
        counter(
            "Retrainings dispatched",
            "Dispatches the target accepted in the dashboard's time range (Jenkins queued, "
            "GitHub accepted, the command exited 0).",
            'sum(increase(drift_bridge_dispatches_total{outcome="succeeded"}[$__range]))',
            "green",
        ),
        counter(
            "Duplicates suppressed",
            "Notifications of an episode already dispatched, in the dashboard's time range.",
            'sum(increase(drift_bridge_alerts_total{decision="duplicate"}[$__range]))',
            "blue",
        ),
        counter(
            "Failures (dead letters)",
            "Dispatches that gave up and wait for `drift-bridge dispatches retry` (now).",
            "sum(drift_bridge_dead_letters)",
            "red",
        ),
        counter(
            "Outbox depth",
            "Dispatches waiting to be sent or being sent (now).",
            "sum(drift_bridge_outbox_pending)",
            "orange",
        ),
        bars(
            "Webhooks received",
            "Alertmanager notifications by outcome: accepted (recorded), invalid, "
            "unauthorized, too_large.",
            "sum by (outcome) (increase(drift_bridge_notifications_total[$__rate_interval]))",
            "{{outcome}}",
        ),
        bars(
            "Alert decisions",
            "What the bridge decided for each alert: new_episode, duplicate, "
            "cooldown_skipped, resolved, no_route, ...",
            "sum by (decision) (increase(drift_bridge_alerts_total[$__rate_interval]))",
            "{{decision}}",
        ),
        bars(
            "Dispatch attempts",
            "Attempts per target and outcome: success, retry (will be tried again), failed.",
            "sum by (target, outcome) "
            "(increase(drift_bridge_dispatch_attempts_total[$__rate_interval]))",
            "{{target}} {{outcome}}",
        ),
        latency,
        outbox,
    ]
    return builder.Row("Retraining (drift-bridge)"), panels


ROWS: list[Callable[[], tuple[builder.Row, list[Panel]]]] = [
    drift_row,
    real_data_row,
    simulation_row,
    bridge_row,
]


def variables() -> list[Any]:
    """The datasource (chosen at import, or the first Prometheus one) and the models."""
    datasource = (
        builder.DatasourceVariable("datasource")
        .label("Datasource")
        .type("prometheus")
        .current(
            model.VariableOption(
                selected=True, text=f"${{{IMPORT_INPUT}}}", value=f"${{{IMPORT_INPUT}}}"
            )
        )
    )
    models = (
        builder.QueryVariable("model")
        .label("Model")
        .datasource(DATASOURCE)
        .query({"query": "label_values(drift_score, model)", "refId": "model"})
        .multi(True)
        .include_all(True)
        .all_value(".+")
        .current(model.VariableOption(selected=True, text=["All"], value=["$__all"]))
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(model.VariableSort.ALPHABETICAL_ASC)
    )
    return [datasource, models]


def build() -> dict[str, Any]:
    """The dashboard as Grafana's JSON model, with the ``__inputs`` an import asks for."""
    dashboard = (
        builder.Dashboard("Model drift and retraining")
        .uid(UID)
        .description(
            "drift_score per model against the alert threshold, the alert's state, real-data "
            "health (drift-exporter watch), the simulation, and the retraining loop "
            "(drift-retrain-bridge)."
        )
        .tags(["drift", "mlops", "drift-retrain-bridge"])
        .timezone("browser")
        .editable()
        .refresh("10s")
        .time("now-1h", "now")
    )
    for variable in variables():
        dashboard = dashboard.with_variable(variable)
    for make_row in ROWS:
        row, panels = make_row()
        if row.build().collapsed:
            for panel in panels:
                row = row.with_panel(panel)
            dashboard = dashboard.with_row(row)
        else:
            dashboard = dashboard.with_row(row)
            for panel in panels:
                dashboard = dashboard.with_panel(panel)
    data: dict[str, Any] = json.loads(json.dumps(dashboard.build(), cls=JSONEncoder))
    _number_panels(data["panels"])
    return {
        "__inputs": [
            {
                "name": IMPORT_INPUT,
                "label": "Prometheus",
                "description": "The Prometheus that scrapes drift-exporter and drift-bridge",
                "type": "datasource",
                "pluginId": "prometheus",
                "pluginName": "Prometheus",
            }
        ],
        "__requires": [
            {"type": "grafana", "id": "grafana", "name": "Grafana", "version": "10.4.0"},
            {"type": "datasource", "id": "prometheus", "name": "Prometheus", "version": "1.0.0"},
        ],
        **data,
    }


def _number_panels(panels: list[dict[str, Any]], start: int = 1) -> int:
    """Give every panel, nested ones included, a unique id (Grafana links panels by id)."""
    next_id = start
    for panel in panels:
        panel["id"] = next_id
        next_id = _number_panels(panel.get("panels", []), next_id + 1)
    return next_id


def render() -> str:
    """The file's text: the dashboard as indented JSON."""
    return json.dumps(build(), indent=2) + "\n"


def main(argv: list[str]) -> int:
    """Write the dashboard (or with ``--check``, exit 1 if the shipped file differs)."""
    text = render()
    if "--check" in argv:
        if OUT.read_text() != text:
            print(f"{OUT} is out of date: run {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
