"""The library's ILS: Koha-shaped schema, synthetic library generator and ``ils init``."""
from .generate import LibrarySpec, generate_library
from .init import init_ils

__all__ = [
    "LibrarySpec",
    "generate_library",
    "init_ils",
]
