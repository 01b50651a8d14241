"""``patronguard keys``: the Director's and designees' signing keys, written authorizations, appointments.

Private keys are never printed: commands show paths and public fingerprints only.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import click

from .errors import InputError

_DURATION = re.compile(r"^(\d+)([hd])$")


def _say(message: str) -> None:
    click.echo(message, err=True)


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
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{option}: {path}: no such file") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InputError(f"{option}: {path}: not a JSON file") from None
    if not isinstance(document, dict):
        raise InputError(f"{option}: {path}: expected a JSON object")
    return document


def _write(document: dict, out: str | None) -> None:
    text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False)
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text + "\n", encoding="utf-8")
        _say(f"wrote {out}")
    else:
        click.echo(text)


@click.group("keys")
def keys() -> None:
    """Signing keys for written authorizations (Ed25519): the Director's and designees'."""


@keys.command("init")
@click.option("--dir", "directory", metavar="DIR", default=None,
              help="Where the key pair goes (default var/keys/director, or var/keys/designees for --designee).")
@click.option("--designee", metavar="NAME", default=None, help="Create a designee's key pair instead of the Director's.")
def keys_init(directory, designee) -> None:
    """Create the Director's (or a designee's) Ed25519 key pair; never overwrites a key.

    The private key is written with mode 0600; only its public fingerprint is shown.

    \b
    Example:
      patronguard keys init
      patronguard keys init --designee deputy-director
    """
    from .authz import designee_key_dir, init_director_key, init_key

    if designee:
        info = init_key(Path(directory) if directory else designee_key_dir(), designee)
    else:
        info = init_director_key(directory)
    click.echo(f"{info.name}: private key {info.private_key_path} (mode 0600, keep it secret)")
    click.echo(f"{info.name}: public key  {info.public_key_path}")
    click.echo(f"{info.name}: fingerprint {info.fingerprint}")


@keys.command("sign")
@click.argument("request_file", metavar="REQUEST.json")
@click.option("--scope", "scope", multiple=True, required=True, metavar="ACTION",
              help="An action this authorizes (repeat for several).")
@click.option("--expires", metavar="WHEN", default="7d", show_default=True,
              help="Expiry: ISO date-time (UTC if no zone), a date, or a duration from now (48h, 7d).")
@click.option("--key", "key_path", metavar="FILE", default=None,
              help="Private key (default var/keys/director/director.key).")
@click.option("--delegation", "delegation_file", metavar="FILE", default=None,
              help="Sign as a designee: the Director's signed appointment (from `keys delegate`).")
@click.option("--note", default=None, help="A note kept in the signed document (no patron values).")
@click.option("--out", metavar="FILE", default=None, help="Write the authorization here (default stdout).")
def keys_sign(request_file, scope, expires, key_path, delegation_file, note, out) -> None:
    """Sign a written authorization bound to one request (the gateway's SHA-256 of the request file).

    The scope names the gateway actions it authorizes (e.g. law_enforcement_request,
    disclose_records, emergency_release, purge). Put the output under the request's
    evidence.written_authorization.

    \b
    Example:
      patronguard keys sign var/requests/wpd-2026-014.json --scope law_enforcement_request --expires 7d --out auth.json
    """
    from .authz import director_key_dir, request_file_sha256, sign_authorization

    request_sha = request_file_sha256(request_file)
    delegation = _read_json(delegation_file, "--delegation") if delegation_file else None
    document = sign_authorization(
        request_sha, signer="designee" if delegation else "director", scope=list(scope),
        expires_at=_when(expires, "--expires"), delegation=delegation, note=note,
        private_key_path=key_path or director_key_dir() / "director.key",
    )
    _say(f"signed for request sha256 {request_sha} with key {document['key_id']}, "
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
              help="The Director's private key (default var/keys/director/director.key).")
@click.option("--designee-key", "designee_public", metavar="FILE", default=None,
              help="The designee's public key (default var/keys/designees/NAME.pub).")
@click.option("--out", metavar="FILE", default=None, help="Write the appointment here (default stdout).")
def keys_delegate(designee, scope, valid_from, valid_until, key_path, designee_public, out) -> None:
    """Sign the Director's written appointment of a designee, for a scope and a validity window.

    \b
    Example:
      patronguard keys delegate deputy-director --scope law_enforcement_request --scope emergency_release --until 30d --out deputy.json
    """
    from .authz import director_key_dir, sign_delegation

    now = dt.datetime.now(dt.timezone.utc)
    document = sign_delegation(
        designee, scope=list(scope), valid_from=_when(valid_from, "--from", default=now),
        valid_until=_when(valid_until, "--until"), private_key_path=key_path or director_key_dir() / "director.key",
        designee_public_key_path=designee_public,
    )
    _say(f"appointed {designee} (key {document['designee_key_id']}) for {', '.join(document['scope'])} "
         f"from {document['valid_from']} until {document['valid_until']}")
    _write(document, out)


@keys.command("verify")
@click.argument("authorization_file", metavar="AUTHORIZATION.json")
@click.argument("request_file", metavar="REQUEST.json")
@click.option("--action", default=None, help="Also check that this action is in scope.")
@click.option("--director-key", "director_public", metavar="FILE", default=None,
              help="The Director's public key (default var/keys/director/director.pub).")
def keys_verify(authorization_file, request_file, action, director_public) -> None:
    """Check a written authorization against a request file now; exit 1 with the reason if refused.

    \b
    Example:
      patronguard keys verify auth.json var/requests/wpd-2026-014.json --action law_enforcement_request
    """
    from .authz import AuthorizationRefusedError, request_file_sha256, verify_authorization

    ok, reason, _role = verify_authorization(
        _read_json(authorization_file, "AUTHORIZATION"), request_file_sha256(request_file),
        dt.datetime.now(dt.timezone.utc), director_public_key_path=director_public, action=action)
    if not ok:
        raise AuthorizationRefusedError(f"{authorization_file}: refused: {reason}")
    click.echo(reason)
