"""``python -m patronguard.cli``: the same as the ``patronguard`` console script."""
from .app import main

if __name__ == "__main__":
    main()
