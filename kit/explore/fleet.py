"""Fleet views: how many devices per tag value and per connection state, how reported telemetry is spread, and how
far it drifts from the desired value. The hub does the counting (``GROUP BY``) and the picking (projections), so
only small results travel; each query is a module constant or a function of its arguments, to print and reuse.

Plots are matplotlib figures made with pyplot and closed at once: the notebook shows the returned figure once
(inline backend), and no figure piles up in pyplot's list, under JupyterLab or under nbval alike.
"""

from __future__ import annotations

import re

import matplotlib.pyplot as plt
import pandas as pd
from azure.iot.hub import IoTHubRegistryManager
from matplotlib.figure import Figure

from kit import twins

CONNECTION_STATES = ("SELECT connectionState, COUNT() AS devices FROM devices GROUP BY connectionState")
NONE_LABEL = "(not set)"
_PATH = re.compile(r"^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$")


def _path(name: str, field: str) -> str:
    if not _PATH.match(name):
        raise ValueError(f"{field}: '{name}' is not a property path; use names such as building or "
                         "telemetryConfig.sendFrequency.")
    return name


def counts_by_tag_query(tag: str = "building") -> str:
    """The IoT Hub query behind ``counts_by_tag``, to read or run yourself."""
    return (f"SELECT tags.{_path(tag, 'tag')} AS value, COUNT() AS devices FROM devices "
            f"GROUP BY tags.{tag}")


def _counts(registry: IoTHubRegistryManager, query: str, column: str) -> pd.DataFrame:
    frame = twins.query_dataframe(registry, query)
    if column not in frame.columns:  # every device lacks the property: one group with no key
        frame[column] = None
    frame[column] = frame[column].fillna(NONE_LABEL).astype(str)
    return frame[[column, "devices"]].sort_values(column, ignore_index=True)


def counts_by_tag(registry: IoTHubRegistryManager, tag: str = "building") -> pd.DataFrame:
    """Devices per value of ``tags.<tag>`` (devices without it under ``(not set)``)."""
    return _counts(registry, counts_by_tag_query(tag), "value").rename(columns={"value": tag})


def counts_by_connection_state(registry: IoTHubRegistryManager) -> pd.DataFrame:
    """Devices per ``connectionState`` (Connected / Disconnected)."""
    return _counts(registry, CONNECTION_STATES, "connectionState")


def telemetry_query(name: str = "temperature", by: str = "deviceType") -> str:
    """The IoT Hub query behind ``telemetry``, to read or run yourself."""
    return (f"SELECT deviceId, tags.{_path(by, 'by')} AS {by.split('.')[-1]}, "
            f"properties.reported.{_path(name, 'name')} AS {name.split('.')[-1]} FROM devices "
            f"WHERE is_defined(properties.reported.{name})")


def telemetry(registry: IoTHubRegistryManager, name: str = "temperature", by: str = "deviceType") -> pd.DataFrame:
    """``deviceId``, the ``tags.<by>`` group and reported ``<name>`` of every device that reports it."""
    return twins.query_dataframe(registry, telemetry_query(name, by))


def drift_query(reported: str = "temperature", desired: str = "targetTemperature") -> str:
    """The IoT Hub query behind ``drift``, to read or run yourself."""
    return (f"SELECT deviceId, properties.reported.{_path(reported, 'reported')} AS reported, "
            f"properties.desired.{_path(desired, 'desired')} AS desired FROM devices "
            f"WHERE is_defined(properties.desired.{desired}) AND is_defined(properties.reported.{reported})")


def drift(registry: IoTHubRegistryManager, reported: str = "temperature",
          desired: str = "targetTemperature") -> pd.DataFrame:
    """Devices with both values: ``reported``, ``desired`` and ``drift`` = reported - desired."""
    frame = twins.query_dataframe(registry, drift_query(reported, desired))
    if frame.empty:
        return pd.DataFrame(columns=["deviceId", "reported", "desired", "drift"])
    frame = frame[pd.to_numeric(frame["reported"], errors="coerce").notna()
                  & pd.to_numeric(frame["desired"], errors="coerce").notna()].copy()
    frame["drift"] = frame["reported"].astype(float) - frame["desired"].astype(float)
    return frame[["deviceId", "reported", "desired", "drift"]].reset_index(drop=True)


# --- plots ---------------------------------------------------------------------------------------------------

def _finish(fig: Figure) -> Figure:
    fig.tight_layout()
    plt.close(fig)
    return fig


def plot_counts(frame: pd.DataFrame, title: str = "") -> Figure:
    """A bar chart of a counts frame (first column: the group, ``devices``: the count)."""
    fig, ax = plt.subplots(figsize=(7, 3))
    group = frame.columns[0]
    ax.bar(frame[group].astype(str), frame["devices"], color="#3f6fb5")
    ax.set_xlabel(group)
    ax.set_ylabel("devices")
    ax.set_title(title or f"Devices by {group}")
    ax.tick_params(axis="x", labelrotation=45 if len(frame) > 6 else 0)
    return _finish(fig)


def plot_distribution(frame: pd.DataFrame, value: str = "temperature", by: str = "deviceType",
                      bins: int = 30, label: str | None = None) -> Figure:
    """Overlaid histograms of ``value``, one per ``by`` group; ``label`` names the value (default: reported value)."""
    label = label or f"reported {value}"
    fig, ax = plt.subplots(figsize=(7, 3))
    for group, rows in frame.groupby(by):
        ax.hist(rows[value].astype(float), bins=bins, alpha=0.55, label=f"{group} ({len(rows):,})")
    ax.set_xlabel(label)
    ax.set_ylabel("devices")
    ax.set_title(f"{label[0].upper()}{label[1:]} by {by}")
    ax.legend()
    return _finish(fig)


def plot_drift(frame: pd.DataFrame, reported: str = "temperature", desired: str = "targetTemperature") -> Figure:
    """Left: reported against desired (the diagonal is no drift); right: the drift's histogram."""
    fig, (scatter, histogram) = plt.subplots(1, 2, figsize=(9, 3.2))
    scatter.scatter(frame["desired"], frame["reported"], s=8, alpha=0.5, color="#3f6fb5")
    low = float(min(frame["desired"].min(), frame["reported"].min()))
    high = float(max(frame["desired"].max(), frame["reported"].max()))
    scatter.plot([low, high], [low, high], color="#b00020", linewidth=1)
    scatter.set_xlabel(f"desired {desired}")
    scatter.set_ylabel(f"reported {reported}")
    histogram.hist(frame["drift"], bins=30, color="#3f6fb5")
    histogram.axvline(0, color="#b00020", linewidth=1)
    histogram.set_xlabel(f"{reported} - {desired}")
    histogram.set_ylabel("devices")
    fig.suptitle(f"Drift of reported {reported} from desired {desired} ({len(frame):,} devices)")
    return _finish(fig)
