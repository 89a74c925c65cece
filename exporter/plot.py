"""``drift-exporter plot``: the series, the threshold dashed, the first crossing marked."""

from pathlib import Path

import pandas as pd

from exporter.simulation.story import first_crossing


def plot_series(data: pd.DataFrame, threshold: float, out: Path, title: str) -> int | None:
    """Write the plot to ``out`` (format from its suffix); return the first crossing's row."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.dates as mdates
        import matplotlib.pyplot as plt
    except ImportError:
        raise RuntimeError(
            "plotting needs matplotlib: pip install 'drift-retrain-bridge[plot]'"
        ) from None

    crossing = first_crossing(data["drift_score"].to_numpy(), threshold)
    fig, ax = plt.subplots(figsize=(10, 4.5), layout="constrained")
    try:
        ax.plot(
            data["timestamp"], data["drift_score"], marker="o", markersize=3, label="drift score"
        )
        ax.axhline(threshold, color="tab:red", linestyle="--", label=f"threshold θ = {threshold:g}")
        if crossing is not None:
            when = data["timestamp"].iloc[crossing]
            value = float(data["drift_score"].iloc[crossing])
            ax.plot([when], [value], marker="o", markersize=9, color="tab:red", zorder=3)
            ax.annotate(
                f"first crossing\n{when:%Y-%m-%d}: {value:.3f}",
                xy=(when, value),
                xytext=(-110, 25),
                textcoords="offset points",
                arrowprops={"arrowstyle": "->"},
            )
        ax.set_title(title)
        ax.set_xlabel("date")
        ax.set_ylabel("drift score")
        ax.set_ylim(bottom=0)
        formatter = mdates.DateFormatter("%Y-%m-%d")  # type: ignore[no-untyped-call]
        ax.xaxis.set_major_formatter(formatter)
        fig.autofmt_xdate()
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left")
        fig.savefig(out)
    finally:
        plt.close(fig)
    return crossing
