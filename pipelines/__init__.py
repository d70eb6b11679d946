"""eudap: the EU Drugs Action Plan 2021-2025 indicator pipeline (Dagster code location)."""

__version__ = "0.1.0"
