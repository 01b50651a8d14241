"""The pipeline's own database (store), with versioned migrations."""
from .migrations import MIGRATIONS, current_version, migrate
from .store import Store, open_store, opened_store

__all__ = ["MIGRATIONS", "Store", "current_version", "migrate", "open_store", "opened_store"]
