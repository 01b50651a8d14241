"""Prefect tasks: thin wrappers over the patronguard core (retries on I/O only)."""
