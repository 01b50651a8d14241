"""Prefect flows: compose tasks in data-flow order; no SQL, regex or policy logic here."""
