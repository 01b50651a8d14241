"""``patronguard keys``: the Director's and designees' signing keys, written authorizations, appointments,
and the Director's key pinned in a store.

Private keys are never printed: commands show paths and public fingerprints only. Key locations come
from configuration (``PATRONGUARD_KEY_DIR`` / ``PATRONGUARD_HOME``), never from the working directory.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import click

from ..errors import InputError
from .options import store_option
from .output import say

_DURATION = re.compile(r"^([0-9]{1,6})([hd])$")


def _when(value: str | None, option: str, *, default: dt.datetime | None = None) -> dt.datetime:
    """ISO date-time (naive = UTC), a date (its start, UTC), or a duration from now: 48h, 7d."""
    now = dt.datetime.now(dt.timezone.utc)
    if value is None:
        if default is None:
            raise InputError(f"{option}: required")
        return default
    match = _DURATION.match(value.strip())
    if match:
        amount = int(match.group(1))
        return now + (dt.timedelta(hours=amount) if match.group(2) == "h" else dt.timedelta(days=amount))
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise InputError(f"{option}: {value!r} is not a date-time; expected e.g. 2026-07-01T17:00:00Z, "
                         "2026-07-01, 48h or 7d") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def _read_json(path: str, option: str) -> dict:
    from ..datafiles import read_json_object

    return read_json_object(path, option)


def _write(document: dict, out: str | None) -> None:
    text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False)
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text + "\n", encoding="utf-8")
        say(f"wrote {out}")
    else:
        click.echo(text)


@click.group("keys")
def keys() -> None:
    """Signing keys for written authorizations (Ed25519): the Director's and designees'."""


@keys.command("init")
@click.option("--dir", "directory", metavar="DIR", default=None,
              help="Where the key pair goes (default KEYS/director, or KEYS/designees for --designee; KEYS is "
                   "PATRONGUARD_KEY_DIR or var/keys under PATRONGUARD_HOME).")
@click.option("--designee", metavar="NAME", default=None, help="Create a designee's key pair instead of the Director's.")
@click.option("--force", is_flag=True, help="Replace an existing key pair (a store that pinned the old Director's "
                                             "key then refuses the new one until `keys pin --replace`).")
@click.option("--store", "store_url", metavar="URL", default=None,
              help="Also pin the new Director's key in this store (refused if it already pins another one; "
                   "default: pin on first verified use).")
def keys_init(directory, designee, force, store_url) -> None:
    """Create the Director's (or a designee's) Ed25519 key pair; never overwrites a key without --force.

    The private key is written with mode 0600; only its public fingerprint is shown. With --store the
    Director's new key is pinned in that store at once (otherwise on its first verified use).

    \b
    Example:
      patronguard keys init
      patronguard keys init --designee deputy-director
    """
    from ..authz import designee_key_dir, init_director_key, init_key

    if designee and store_url:
        raise InputError("--store pins the Director's key; a designee's key is named in their signed appointment")
    if designee:
        info = init_key(Path(directory) if directory else designee_key_dir(), designee, force=force)
    elif store_url:
        from ..authz import pinned_director_key
        from ..store import opened_store

        with opened_store(store_url) as store:
            pinned = pinned_director_key(store)     # refuse before a key is written
            if pinned is not None:
                raise InputError(f"--store: {store.url} already pins the Director's key {pinned.fingerprint[:16]}; "
                                 "create the key without --store, then pin it on purpose with "
                                 "`patronguard keys pin --replace --by NAME`")
            info = init_director_key(directory, force=force)
            _pin(store, info.fingerprint, actor="keys init", how="keys init --store", replace=False)
    else:
        info = init_director_key(directory, force=force)
    click.echo(f"{info.name}: private key {info.private_key_path} (mode 0600, keep it secret)")
    click.echo(f"{info.name}: public key  {info.public_key_path}")
    click.echo(f"{info.name}: fingerprint {info.fingerprint}")


def _pin(store, fingerprint: str, *, actor: str, how: str, replace: bool) -> None:
    from ..authz import pin_director_key

    done = pin_director_key(store, fingerprint, actor=actor, how=how, replace=replace)
    click.echo(f"{store.url}: Director's key {fingerprint} "
               + {"pinned": "pinned", "replaced": "pinned (replacing the old one; recorded in the audit log)",
                  "unchanged": "was already pinned"}[done])


@keys.command("pin")
@store_option("store_url")
@click.option("--key", "public_key", metavar="FILE", default=None,
              help="The Director's public key (default: PATRONGUARD_DIRECTOR_PUBLIC_KEY or "
                   "KEYS/director/director.pub).")
@click.option("--replace", is_flag=True, help="Replace a different pinned key (recorded in the audit log).")
@click.option("--by", "actor", metavar="NAME", required=True, help="Who pins it (recorded in the audit log).")
def keys_pin(store_url, public_key, replace, actor) -> None:
    """Pin the Director's public key (its fingerprint) in a store; only --replace changes a pinned key.

    A store accepts authorizations only from the Director's key it pinned (on first verified use, at
    `keys init --store`, or here). After the Director's key was replaced on purpose, pin the new one
    with --replace; the change is recorded in the audit log.

    \b
    Example:
      patronguard keys pin --replace --by director
    """
    from ..authz import configured_director_key
    from ..store import opened_store

    path, fingerprint = configured_director_key(public_key)
    with opened_store(store_url) as store:
        _pin(store, fingerprint, actor=actor, how=f"keys pin{' --replace' if replace else ''} ({path})",
             replace=replace)


@keys.command("sign")
@click.argument("request_file", metavar="REQUEST.json")
@click.option("--scope", "scope", multiple=True, required=True, metavar="ACTION",
              help="An action this authorizes (repeat for several).")
@click.option("--expires", metavar="WHEN", default="7d", show_default=True,
              help="Expiry: ISO date-time (UTC if no zone), a date, or a duration from now (48h, 7d).")
@click.option("--key", "key_path", metavar="FILE", default=None,
              help="Private key (default KEYS/director/director.key).")
@click.option("--delegation", "delegation_file", metavar="FILE", default=None,
              help="Sign as a designee: the Director's signed appointment (from `keys delegate`).")
@click.option("--note", default=None, help="A note kept in the signed document (no patron values).")
@click.option("--out", metavar="FILE", default=None, help="Write the authorization here (default stdout).")
def keys_sign(request_file, scope, expires, key_path, delegation_file, note, out) -> None:
    """Sign a written authorization bound to one request (the gateway's SHA-256 of the request file).

    The scope names the gateway actions it authorizes (e.g. law_enforcement_request,
    disclose_records, emergency_release, purge). A request printed by `purge --print-request`
    or `holds release --print-request` is bound to one store, run and nonce: the authorization
    carries a signed copy of that binding and is good for one use. Put the output under the
    request's evidence.written_authorization (or pass it to --authorization).

    \b
    Example:
      patronguard keys sign examples/requests/westchester-s5-subpoena.json --scope law_enforcement_request --expires 7d --out auth.json
    """
    from ..authz import director_key_dir, sign_request
    from ..gateway import load_request

    request = load_request(request_file)
    delegation = _read_json(delegation_file, "--delegation") if delegation_file else None
    document = sign_request(
        request, signer="designee" if delegation else "director", scope=list(scope),
        expires_at=_when(expires, "--expires"), delegation=delegation, note=note,
        private_key_path=key_path or director_key_dir() / "director.key",
    )
    binding = document.get("binding") or {}
    shown = {k: binding.get(k) for k in ("store_id", "scope", "cutoff", "mode", "hold_id")}
    if str(shown["scope"]).startswith("patron:"):
        shown["scope"] = "one patron's reading history"      # no borrowernumber in messages
    bound = " (bound to " + ", ".join(f"{k} {v}" for k, v in shown.items() if v is not None) + ")" if binding else ""
    say(f"signed for request sha256 {document['request_sha256']}{bound} with key {document['key_id']}, "
         f"expires {document['expires_at']}")
    _write(document, out)


@keys.command("delegate")
@click.argument("designee", metavar="NAME")
@click.option("--scope", "scope", multiple=True, required=True, metavar="ACTION",
              help="An action the designee may authorize (repeat for several).")
@click.option("--from", "valid_from", metavar="WHEN", default=None, help="Start (default now).")
@click.option("--until", "valid_until", metavar="WHEN", required=True,
              help="End: ISO date-time (UTC if no zone), a date, or a duration from now (30d).")
@click.option("--key", "key_path", metavar="FILE", default=None,
              help="The Director's private key (default KEYS/director/director.key).")
@click.option("--designee-key", "designee_public", metavar="FILE", default=None,
              help="The designee's public key (default KEYS/designees/NAME.pub).")
@click.option("--out", metavar="FILE", default=None, help="Write the appointment here (default stdout).")
def keys_delegate(designee, scope, valid_from, valid_until, key_path, designee_public, out) -> None:
    """Sign the Director's written appointment of a designee, for a scope and a validity window.

    \b
    Example:
      patronguard keys delegate deputy-director --scope law_enforcement_request --scope emergency_release --until 30d --out deputy.json
    """
    from ..authz import director_key_dir, sign_delegation

    now = dt.datetime.now(dt.timezone.utc)
    document = sign_delegation(
        designee, scope=list(scope), valid_from=_when(valid_from, "--from", default=now),
        valid_until=_when(valid_until, "--until"), private_key_path=key_path or director_key_dir() / "director.key",
        designee_public_key_path=designee_public,
    )
    say(f"appointed {designee} (key {document['designee_key_id']}) for {', '.join(document['scope'])} "
         f"from {document['valid_from']} until {document['valid_until']}")
    _write(document, out)


@keys.command("verify")
@click.argument("authorization_file", metavar="AUTHORIZATION.json")
@click.argument("request_file", metavar="REQUEST.json")
@click.option("--action", default=None, help="Also check that this action is in scope.")
@click.option("--director-key", "director_public", metavar="FILE", default=None,
              help="The Director's public key (default: PATRONGUARD_DIRECTOR_PUBLIC_KEY or "
                   "KEYS/director/director.pub).")
@click.option("--json", "as_json", is_flag=True, help="Print {valid, reason, signer} as JSON.")
def keys_verify(authorization_file, request_file, action, director_public, as_json) -> None:
    """Check a written authorization against a request file now; exit 1 with the reason if refused.

    Signature, request, expiry, scope and delegation only: whether a store has seen it used, and whether
    its binding fits a run, is checked by the command that uses it.

    \b
    Example:
      patronguard keys verify auth.json examples/requests/westchester-s5-subpoena.json --action law_enforcement_request
    """
    from ..authz import AuthorizationRefusedError, request_file_sha256, verify_authorization

    ok, reason, role = verify_authorization(
        _read_json(authorization_file, "AUTHORIZATION"), request_file_sha256(request_file),
        dt.datetime.now(dt.timezone.utc), director_public_key_path=director_public, action=action)
    if as_json:
        click.echo(json.dumps({"valid": ok, "reason": reason, "signer": role}, indent=2))
    if not ok:
        raise AuthorizationRefusedError(f"{authorization_file}: refused: {reason}")
    if not as_json:
        click.echo(reason)
