"""The Dagster code location of AIRevenueOrc: ingest, dbt, ML and reverse-ETL assets."""
