"""Admin commands of the identity side, mirroring what an Azure admin does in the portal or with ``az``.

``app`` manages app registrations (secrets, certificates, federated credentials, disable, delete) and user-assigned
managed identities; ``role`` manages role assignments on the hub (the store ARM's roleAssignments serve too);
``token workload`` mints a token from the built-in external issuer. They call the same functions as the sandbox's
Graph and ARM, on the SQLite directory directly, so they work whether or not the sandbox runs.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from kit.sandbox import rbac
from kit.sandbox.cli import add_state_dir, print_json
from kit.sandbox.connection import connection_path
from kit.sandbox.db import Database
from kit.sandbox.identity import directory, external_issuer, issuance, seed
from kit.sandbox.identity.keys import new_signing_key
from kit.sandbox.paths import private_dir, resolve_state_dir, write_private

NO_WAIT_HELP = "return at once instead of waiting for the assignment to apply (role propagation)"
IDENTITY_NOT_FOUND = "Identity not found"  # what the portal shows for an assignment whose principal was deleted


@contextmanager
def _directory(args: argparse.Namespace) -> Iterator[tuple[Database, Path]]:
    folder = private_dir(resolve_state_dir(args.state_dir))
    db = Database.in_state_dir(folder)
    try:
        seed.ensure_seeded(folder, db)
        yield db, folder
    finally:
        db.close()


def _principal_id(db: Database, reference: str) -> tuple[str, str]:
    """(object id, display name) of an app, managed identity or user (by UPN or object id)."""
    row = db.one("SELECT object_id, display_name FROM users WHERE upn = ? OR object_id = ? COLLATE NOCASE",
                 (reference, reference))
    if row:
        return row["object_id"], row["display_name"]
    try:
        principal = directory.find_principal(db, reference)
    except LookupError:
        if directory.GUID.match(reference) and rbac.list_assignments(db, principal_id=reference):
            return reference, IDENTITY_NOT_FOUND  # a deleted principal's assignments can still be removed
        raise
    return principal.object_id, principal.display_name


def _app_create(args: argparse.Namespace) -> int:
    kind = "managed_identity" if args.managed_identity else "public_client" if args.public_client else "application"
    with _directory(args) as (db, _):
        for role in args.role:
            rbac.role_named(role)  # fail before creating anything
        principal = directory.create_principal(db, args.name, kind)
        result = {"display_name": principal.display_name, "client_id": principal.client_id,
                  "object_id": principal.object_id, "tenant_id": principal.tenant_id, "kind": kind}
        if kind == "application":
            secret = directory.add_secret(db, principal, args.secret_days)
            result.update(client_secret=secret["client_secret"], secret_expires=secret["expires"])
        assignments = [rbac.assign(db, principal.object_id, role) for role in args.role]
        result["roles"] = [a.role.name for a in assignments]
    if assignments:
        result["waited_for_propagation_s"] = _wait_until_applied(assignments, args.no_wait)
    print_json(result)
    return 0


def _wait_until_applied(assignments: list[rbac.Assignment], no_wait: bool) -> float:
    """Sleep until new assignments apply (the sandbox's propagation delay), so the next command can use them; a
    program using ARM on Azure polls instead (kit.admin.wait_for_role). Returns the seconds waited."""
    wait = max(0.0, max(a.effective_at for a in assignments) - time.time())
    if no_wait:
        return 0.0
    time.sleep(wait)
    return round(wait, 1)


def _app_list(args: argparse.Namespace) -> int:
    with _directory(args) as (db, _):
        print_json([directory.describe(db, p) for p in directory.list_principals(db)])
    return 0


def _on_app(action: Callable[[Database, directory.Principal, argparse.Namespace, Path], dict]) -> Callable:
    def handler(args: argparse.Namespace) -> int:
        with _directory(args) as (db, folder):
            principal = directory.find_principal(db, args.app)
            print_json({"client_id": principal.client_id, **action(db, principal, args, folder)})
        return 0

    return handler


def _secret_add(db, principal, args, folder) -> dict:
    return directory.add_secret(db, principal, args.days)


def _secret_expire(db, principal, args, folder) -> dict:
    return {"expired_secrets": directory.expire_secrets(db, principal, args.key_id)}


def _cert_upload(db, principal, args, folder) -> dict:
    path = Path(args.file).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"file: no certificate at {path}. Give the path of a PEM certificate.")
    return directory.add_certificate(db, principal, path.read_bytes())


def _cert_generate(db, principal, args, folder) -> dict:
    """Make a key pair and certificate, register the certificate and write key + certificate (0600) for the app."""
    key = new_signing_key(principal.display_name)
    out = Path(args.out).expanduser().resolve()
    write_private(out, key.pem())
    return {**directory.add_certificate(db, principal, key.pem()), "certificate_path": str(out)}


def _fic_add(db, principal, args, folder) -> dict:
    return directory.add_federated_credential(db, principal, args.name, args.issuer, args.subject, args.audience,
                                              args.description)


def _disable(db, principal, args, folder) -> dict:
    directory.set_enabled(db, principal, False)
    return {"enabled": False}


def _enable(db, principal, args, folder) -> dict:
    directory.set_enabled(db, principal, True)
    return {"enabled": True}


def _delete(db, principal, args, folder) -> dict:
    directory.delete_principal(db, principal)
    return {"deleted": True, "object_id": principal.object_id}


def _role_assign(args: argparse.Namespace) -> int:
    with _directory(args) as (db, _):
        object_id, name = _principal_id(db, args.principal)
        assignment = rbac.assign(db, object_id, args.role, scope=args.scope,
                                 principal_type=directory.principal_type(db, object_id) or "ServicePrincipal")
    print_json({"principal_id": object_id, "principal_name": name, "role": assignment.role.name,
                "role_definition_id": assignment.role.definition_id, "scope": assignment.scope,
                "name": assignment.name, "waited_for_propagation_s": _wait_until_applied([assignment], args.no_wait)})
    return 0


def _role_remove(args: argparse.Namespace) -> int:
    with _directory(args) as (db, _):
        object_id, name = _principal_id(db, args.principal)
        removed = rbac.remove(db, object_id, args.role, scope=args.scope)
    print_json({"principal_id": object_id, "principal_name": name, "role": rbac.role_named(args.role).name,
                "removed": removed})
    return 0


def _role_list(args: argparse.Namespace) -> int:
    """Assignments at the hub's scope and above; one whose principal was deleted is marked as Azure marks it."""
    with _directory(args) as (db, _):
        principal = _principal_id(db, args.principal)[0] if args.principal else None
        found = rbac.list_assignments(db, rbac.hub_scope(db), principal, at_scope=True)
        names = {p.object_id.lower(): p.display_name for p in directory.list_principals(db)}
        names.update({r["object_id"].lower(): r["upn"] for r in db.all("SELECT object_id, upn FROM users")})
        rows = []
        for a in found:
            name = names.get(a.principal_id.lower())
            rows.append({"principal_id": a.principal_id, "principal_name": name or IDENTITY_NOT_FOUND,
                         "principal_type": a.principal_type if name else "Unknown", "role": a.role.name,
                         "scope": a.scope, "name": a.name, "applied": a.in_effect})
        print_json(rows)
    return 0


def _role_propagation(args: argparse.Namespace) -> int:
    with _directory(args) as (db, _):
        if args.seconds is not None:
            rbac.set_propagation_seconds(db, args.seconds)
        seconds = rbac.propagation_seconds(db)
    print_json({"role_propagation_seconds": seconds,
                "meaning": "a new role assignment applies this long after it is made (Azure: up to 10 minutes)"})
    return 0


def _token_workload(args: argparse.Namespace) -> int:
    folder = resolve_state_dir(args.state_dir)
    path = connection_path(folder)
    if not path.exists():
        raise FileNotFoundError("The external issuer's URL is known once the sandbox has run: "
                                "python -m kit.sandbox start")
    issuer = json.loads(path.read_text())["external_issuer"]
    token = external_issuer.mint_workload_token(external_issuer.signing_key(folder), issuer, args.subject,
                                                args.audience, int(args.minutes * 60))
    result = {"issuer": issuer, "subject": args.subject, "audience": args.audience}
    if args.out:
        result["token_file"] = str(write_private(Path(args.out).expanduser().resolve(), token))
    else:
        result["token"] = token
    print_json(result)
    return 0


def _token_lifetime(args: argparse.Namespace) -> int:
    with _directory(args) as (db, _):
        if args.seconds is None:
            seconds = issuance.access_token_lifetime_s(db)
        else:
            seconds = issuance.set_access_token_lifetime_s(db, None if args.seconds == "default" else
                                                           _whole_seconds(args.seconds))
    print_json({"access_token_lifetime_s": seconds, "default": seconds == issuance.ACCESS_TOKEN_LIFETIME_S})
    return 0


def _whole_seconds(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"seconds: '{text}' is not a whole number of seconds (or 'default').") from None


def _command(sub, name: str, handler: Callable, text: str, app: bool = False) -> argparse.ArgumentParser:
    parser = sub.add_parser(name, help=text, description=text)
    add_state_dir(parser)
    if app:
        parser.add_argument("--app", required=True, help="client id, object id or display name")
    parser.set_defaults(handler=handler)
    return parser


def register_cli(subparsers: argparse._SubParsersAction) -> None:
    """The Entra admin commands (app, role, token), as ``az ad`` / ``az role`` offer them."""
    app = subparsers.add_parser("app", help="app registrations and managed identities (like az ad app / az identity)")
    app_sub = app.add_subparsers(dest="app_command", required=True)

    create = _command(app_sub, "create", _app_create, "register an app (prints its client id, secret and object id)")
    create.add_argument("--name", required=True)
    create.add_argument("--role", action="append", default=[], help="IoT Hub data role to assign (repeatable)")
    create.add_argument("--secret-days", type=float, default=directory.DEFAULT_SECRET_DAYS)
    create.add_argument("--no-wait", action="store_true", help=NO_WAIT_HELP)
    kinds = create.add_mutually_exclusive_group()
    kinds.add_argument("--managed-identity", action="store_true", help="a user-assigned managed identity instead")
    kinds.add_argument("--public-client", action="store_true", help="a public client (device code), no secret")

    _command(app_sub, "list", _app_list, "list apps, their credentials (never secret values) and roles")

    secret = app_sub.add_parser("secret", help="client secrets").add_subparsers(dest="secret_command", required=True)
    _command(secret, "add", _on_app(_secret_add), "add a client secret (shown once)", app=True).add_argument(
        "--days", type=float, default=directory.DEFAULT_SECRET_DAYS)
    _command(secret, "expire", _on_app(_secret_expire), "make secrets expire now", app=True).add_argument(
        "--key-id", default=None, help="only this secret (default: all of the app's secrets)")

    cert = app_sub.add_parser("cert", help="certificates").add_subparsers(dest="cert_command", required=True)
    _command(cert, "upload", _on_app(_cert_upload), "register a PEM certificate", app=True).add_argument(
        "--file", required=True)
    _command(cert, "generate", _on_app(_cert_generate),
             "make a key and certificate, register it, write both to a 0600 PEM", app=True).add_argument(
        "--out", required=True)

    fic = app_sub.add_parser("fic", help="federated identity credentials").add_subparsers(
        dest="fic_command", required=True)
    fic_add = _command(fic, "add", _on_app(_fic_add), "trust an external issuer's tokens for one subject", app=True)
    fic_add.add_argument("--name", required=True)
    fic_add.add_argument("--issuer", required=True)
    fic_add.add_argument("--subject", required=True)
    fic_add.add_argument("--audience", default=directory.FIC_AUDIENCE)
    fic_add.add_argument("--description", default="")

    _command(app_sub, "disable", _on_app(_disable), "disable sign-in for an app", app=True)
    _command(app_sub, "enable", _on_app(_enable), "enable sign-in again", app=True)
    _command(app_sub, "delete", _on_app(_delete),
             "delete an app (its role assignments stay, as 'Identity not found', until removed)", app=True)

    role = subparsers.add_parser("role", help="role assignments on the hub (like az role assignment)")
    role_sub = role.add_subparsers(dest="role_command", required=True)
    for name, handler, text in (("assign", _role_assign, "assign a role (it applies after the propagation delay)"),
                                ("remove", _role_remove, "remove one")):
        cmd = _command(role_sub, name, handler, text)
        cmd.add_argument("--principal", required=True, help="app client id, object id or name, or a user's UPN")
        cmd.add_argument("--role", required=True, help=", ".join(rbac.BUILT_IN_ROLES))
        cmd.add_argument("--scope", default=None, help="a resource id (default: the hub's)")
        if name == "assign":
            cmd.add_argument("--no-wait", action="store_true", help=NO_WAIT_HELP)
    _command(role_sub, "list", _role_list, "list role assignments at the hub's scope and above").add_argument(
        "--principal", default=None)
    _command(role_sub, "propagation", _role_propagation,
             "show or set how long a new assignment takes to apply").add_argument(
        "seconds", nargs="?", type=float, default=None, help="0 to 3600 (omit to show the current delay)")

    token = subparsers.add_parser("token", help="tokens from the sandbox's external issuer")
    token_sub = token.add_subparsers(dest="token_command", required=True)
    workload = _command(token_sub, "workload", _token_workload,
                        "mint an external-issuer workload token (like a Kubernetes service-account token)")
    workload.add_argument("--subject", default=external_issuer.DEFAULT_SUBJECT)
    workload.add_argument("--audience", default=directory.FIC_AUDIENCE)
    workload.add_argument("--minutes", type=float, default=60)
    workload.add_argument("--out", default=None, help="write the token to this file (0600) instead of printing it")
    lifetime = _command(token_sub, "lifetime", _token_lifetime,
                        "show or set how long the access tokens issued from now on last (sandbox only: Entra's "
                        "last 60 to 90 minutes by default)")
    lifetime.add_argument("seconds", nargs="?", default=None, help="5 to 3599, or 'default'")
