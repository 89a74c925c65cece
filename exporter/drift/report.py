"""The report of ``drift-exporter score``: a table for people, JSON for programs."""

import json
from typing import Any

from exporter.drift.scoring import WindowScore
from exporter.drift.settings import DriftSettings


def report_dict(
    result: WindowScore,
    settings: DriftSettings,
    model: str | None,
    reference: dict[str, Any],
    current: dict[str, Any],
) -> dict[str, Any]:
    """Everything the report says, as plain JSON-ready values."""
    return {
        "model": model,
        "drift_score": result.score,
        "unavailable": result.unavailable,
        "detail": result.detail or None,
        "method": result.method,
        "aggregation": result.aggregation,
        "feature_threshold": settings.feature_threshold,
        "drifted_features": list(result.drifted),
        "scored_features": result.scored,
        "window_rows": result.rows,
        "min_rows": settings.min_rows,
        "bins": settings.bins,
        "reference": reference,
        "current": current,
        "score_seconds": round(result.seconds, 6),
        "features": [
            {
                "feature": feature.feature,
                "kind": feature.kind,
                "values": feature.values,
                "missing": feature.missing,
                "unseen": feature.unseen,
                "scores": feature.scores,
                # KS/Wasserstein from the quantile grid: |exact - score| <= bound.
                "error_bounds": feature.bounds,
            }
            for feature in result.features
        ],
    }


def format_json(report: dict[str, Any]) -> str:
    """The report as JSON (strict: no NaN)."""
    return json.dumps(report, indent=2, allow_nan=False)


def format_table(report: dict[str, Any], methods: tuple[str, ...]) -> str:
    """The report as an aligned table, one feature a line, then the model's score."""
    header = ["feature", "kind", "values", "missing", "unseen", *methods]
    rows = [header]
    for feature in report["features"]:
        scores = feature["scores"]
        rows.append(
            [
                feature["feature"],
                feature["kind"],
                str(feature["values"]),
                str(feature["missing"]),
                "-" if feature["unseen"] is None else str(feature["unseen"]),
                *(f"{scores[m]:.4f}" if m in scores else "-" for m in methods),
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(
            cell.ljust(width) if i < 2 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]
    lines.append("")
    bounds = _bounds(report)
    if bounds:
        lines.append(bounds)
    lines.append(_summary(report))
    return "\n".join(lines)


def _bounds(report: dict[str, Any]) -> str:
    widest: dict[str, float] = {}
    for feature in report["features"]:
        for method, bound in feature.get("error_bounds", {}).items():
            widest[method] = max(widest.get(method, 0.0), bound)
    if not widest:
        return ""
    within = ", ".join(f"{method} ±{bound:.4f}" for method, bound in widest.items())
    return f"from the reference's quantile grid, within {within} of the exact values"


def _summary(report: dict[str, Any]) -> str:
    name = f"{report['model']}: " if report["model"] else ""
    scored = report["scored_features"]
    how = f"{report['aggregation']} of {report['method']} over {scored} feature(s)"
    if report["aggregation"] == "share":
        how = (
            f"share of {scored} feature(s) with {report['method']} > "
            f"{report['feature_threshold']:g}"
        )
    if report["drift_score"] is None:
        return (
            f"{name}drift_score: not computed ({report['unavailable']}: {report['detail']}); "
            f"{report['window_rows']} rows"
        )
    drifted = ", ".join(report["drifted_features"]) or "none"
    return (
        f"{name}drift_score {report['drift_score']:.4f} ({how}, {report['window_rows']} rows); "
        f"features above {report['feature_threshold']:g}: {drifted}"
    )
