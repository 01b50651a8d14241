"""Options shared by the CLI modules, so every command spells them the same way."""
from __future__ import annotations

import click

from . import settings


def store_option(dest: str = "store"):
    return click.option("--store", dest, metavar="URL", default=None,
                        help=f"Store URL (env PATRONGUARD_STORE_URL; default {settings.DEFAULT_STORE_URL}).")


def policy_option(dest: str = "policy"):
    return click.option("--policy", dest, metavar="FILE", default=None,
                        help=f"Policy file (env PATRONGUARD_POLICY; default {settings.DEFAULT_POLICY}).")
