"""Every option of ``kg serve`` in one place: its flag, its ``KG_<NAME>`` variable and its default.

Each field of :class:`ServeSettings` is one option. ``--query-timeout`` on the command line,
``KG_QUERY_TIMEOUT`` in the environment; the command line wins, then the environment, then the
default. Repeatable options (``--data``, ``--allow-service``) take several values on the command
line and a space-separated list in the environment (shell quoting allowed).
"""

from __future__ import annotations

import argparse
import os
import shlex
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ENV_PREFIX = "KG_"


def _option(
    help: str, parse: Callable[[str], Any] = str, repeatable: bool = False, metavar: str = "", flag: bool = True
) -> Any:
    """A field's metadata; ``flag`` False: environment only (secrets stay off the command line)."""
    return {"help": help, "parse": parse, "repeatable": repeatable, "metavar": metavar, "flag": flag}


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(f"{text} is not a positive whole number")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError(f"{text} is not a positive number")
    return value


def _default_workers() -> int:
    """Four query slots per core, at least eight: a few heavy queries never leave lookups waiting."""
    return max(8, 4 * (os.cpu_count() or 1))


def _default_isolated_workers() -> int:
    """One isolated worker per core, at least two."""
    return max(2, os.cpu_count() or 1)


@dataclass(frozen=True)
class ServeSettings:
    """The limits and places of one ``kg serve`` process (see docs/operations.md)."""

    host: str = field(default="", metadata=_option("address to listen on (default from [tool.kg])", metavar="HOST"))
    port: int = field(default=0, metadata=_option("port to listen on (default from [tool.kg])", int, metavar="PORT"))
    data: tuple[Path, ...] = field(
        default=(),
        metadata=_option(
            "a dist folder or RDF files (.nq, .trig, .ttl, .nt, .jsonld, .rdf) to serve; "
            "default: the project's dist/, built first if missing",
            Path,
            repeatable=True,
            metavar="PATH",
        ),
    )
    store: Path | None = field(
        default=None,
        metadata=_option(
            "keep the Oxigraph store in this folder and reuse it while the data files are unchanged "
            "(default: a temporary store in memory, removed on exit)",
            Path,
            metavar="PATH",
        ),
    )
    public_url: str = field(
        default="",
        metadata=_option(
            "the URL this server is reached at, for links and the service description (default: http://HOST:PORT/)",
            metavar="URL",
        ),
    )
    query_timeout: float = field(
        default=30.0,
        metadata=_option(
            "seconds a query may run (waiting included) before it is stopped", _positive_float, metavar="S"
        ),
    )
    max_rows: int = field(
        default=10_000,
        metadata=_option(
            "rows (or triples) a result holds at most; more is cut and flagged", _positive_int, metavar="N"
        ),
    )
    allow_service: tuple[str, ...] = field(
        default=(),
        metadata=_option(
            "an IRI prefix SERVICE may call (repeatable), e.g. https://query.wikidata.org/sparql; "
            "default: SERVICE is refused",
            repeatable=True,
            metavar="PREFIX",
        ),
    )
    workers: int = field(
        default_factory=_default_workers,
        metadata=_option(
            "queries evaluated at once by the shared query worker, one thread each (default: 4 per core, at least 8)",
            _positive_int,
            metavar="N",
        ),
    )
    isolated_workers: int = field(
        default_factory=_default_isolated_workers,
        metadata=_option(
            "single-query worker processes, for queries run again on their own after a shared worker "
            "failed or was killed, and while it restarts (default: 1 per core, at least 2)",
            _positive_int,
            metavar="N",
        ),
    )
    max_concurrent: int = field(
        default=64,
        metadata=_option("queries running or waiting at once; more get 503 + Retry-After", _positive_int, metavar="N"),
    )
    max_query_bytes: int = field(
        default=1_000_000,
        metadata=_option("longest query text accepted, in bytes (413 beyond)", _positive_int, metavar="N"),
    )
    max_body_bytes: int = field(
        default=4_000_000,
        metadata=_option("largest request body accepted, in bytes (413 beyond)", _positive_int, metavar="N"),
    )
    memory_limit_mb: int = field(
        default=2048,
        metadata=_option(
            "memory a worker's queries may use together, in MiB, beyond its baseline (a query run on its own "
            "in an isolated worker has it all)",
            _positive_int,
            metavar="MB",
        ),
    )
    backend: str = field(
        default="",
        metadata=_option(
            "a SPARQL 1.1 query endpoint (e.g. http://127.0.0.1:7878/query) that evaluates the queries instead "
            "of the embedded store; its default graph must be the union of the named graphs (docs/scaling.md)",
            metavar="URL",
        ),
    )
    backend_user: str = field(
        default="",
        metadata=_option(
            "user name for HTTP Basic authentication at --backend (password: KG_BACKEND_PASSWORD or "
            "--backend-password-file)",
            metavar="USER",
        ),
    )
    backend_password: str = field(
        default="", repr=False, metadata=_option("password for --backend-user (environment only)", flag=False)
    )
    backend_password_file: Path | None = field(
        default=None,
        metadata=_option("a file whose first line is the password for --backend-user", Path, metavar="PATH"),
    )
    backend_token: str = field(
        default="", repr=False, metadata=_option("bearer token for --backend (environment only)", flag=False)
    )
    backend_token_file: Path | None = field(
        default=None, metadata=_option("a file whose first line is a bearer token for --backend", Path, metavar="PATH")
    )
    log_level: str = field(default="info", metadata=_option("uvicorn log level", metavar="LEVEL"))

    @property
    def endpoint_url(self) -> str:
        """The public URL of the SPARQL endpoint."""
        return self.public_url + "sparql"

    def resolved(self) -> ServeSettings:
        """These settings with host, port and public URL filled in from the project's defaults."""
        from kg.config import settings as project

        host = self.host or project().host
        port = self.port or project().port
        public = self.public_url or f"http://{host}:{port}/"
        return replace(self, host=host, port=port, public_url=public if public.endswith("/") else public + "/")


def option_name(name: str) -> str:
    """The command-line flag of a settings field."""
    return "--" + name.replace("_", "-")


def env_name(name: str) -> str:
    """The environment variable of a settings field."""
    return ENV_PREFIX + name.upper()


def env_names() -> list[str]:
    """Every environment variable the settings read."""
    return [env_name(f.name) for f in fields(ServeSettings)]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one flag per settings field; unset flags stay None so the environment can fill them."""
    for spec in fields(ServeSettings):
        meta = spec.metadata
        if not meta["flag"]:
            continue
        default = spec.default_factory() if spec.default is MISSING else spec.default  # type: ignore[misc]
        shown = " ".join(map(str, default)) if isinstance(default, tuple) else default
        help_text = f"{meta['help']} [env {env_name(spec.name)}" + (f"; default {shown}]" if shown else "]")
        kwargs: dict[str, Any] = {"dest": spec.name, "default": None, "help": help_text, "metavar": meta["metavar"]}
        if meta["repeatable"]:
            kwargs.update(action="extend", nargs="+")
        parser.add_argument(option_name(spec.name), type=_argparse_type(meta["parse"], spec.name), **kwargs)


def _argparse_type(parse: Callable[[str], Any], name: str) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{option_name(name)}: {exc}") from exc

    return convert


def from_sources(args: argparse.Namespace | None = None, environ: Mapping[str, str] | None = None) -> ServeSettings:
    """Settings from parsed arguments, then ``KG_*`` variables, then defaults; raises ValueError."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for spec in fields(ServeSettings):
        given = getattr(args, spec.name, None) if args is not None else None
        if given is None and env_name(spec.name) in environ:
            given = _from_env(spec.name, environ[env_name(spec.name)], spec.metadata)
        if given is not None:
            values[spec.name] = tuple(given) if spec.metadata["repeatable"] else given
    return _with_secrets(ServeSettings(**values))


def _with_secrets(settings: ServeSettings) -> ServeSettings:
    """The backend's password and token read from their files, and its credential options checked."""
    password = read_secret(
        settings.backend_password, settings.backend_password_file, "KG_BACKEND_PASSWORD", "--backend-password-file"
    )
    token = read_secret(settings.backend_token, settings.backend_token_file, "KG_BACKEND_TOKEN", "--backend-token-file")
    if (settings.backend_user or password or token) and not settings.backend:
        raise ValueError("credentials for a SPARQL backend are set, but --backend is not")
    check_credentials(
        settings.backend,
        settings.backend_user,
        password,
        token,
        "--backend-user",
        "KG_BACKEND_PASSWORD or --backend-password-file",
    )
    return replace(settings, backend_password=password, backend_token=token)


def read_secret(value: str, path: Path | None, env: str, flag: str) -> str:
    """``value`` (from the variable ``env``), or the first line of the file at ``path`` (``flag``); not both."""
    if path is None:
        return value
    if value:
        raise ValueError(f"give {env} or {flag}, not both")
    try:
        secret = next(iter(path.read_text("utf-8").splitlines()), "")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{flag}: cannot read {path} ({type(exc).__name__})") from None
    if not secret:
        raise ValueError(f"{flag}: the first line of {path} is empty")
    return secret


def check_credentials(url: str, user: str, password: str, token: str, user_flag: str, password_from: str) -> None:
    """Raise ValueError unless the credentials for ``url`` are one usable set, or none."""
    if user and token:
        raise ValueError(f"give {user_flag} (with a password) or a bearer token, not both")
    if password and not user:
        raise ValueError(f"a password is set: give the user name too ({user_flag})")
    if user and not password:
        raise ValueError(f"{user_flag} needs a password: set {password_from}")
    if (user or token) and urlsplit(url).username is not None:
        raise ValueError("the URL holds credentials: give them there or in the options, not both")


def _from_env(name: str, text: str, meta: Mapping[str, Any]) -> Any:
    parse = meta["parse"]
    try:
        if meta["repeatable"]:
            return [parse(item) for item in shlex.split(text)]
        return parse(text.strip())
    except ValueError as exc:
        raise ValueError(f"{env_name(name)}={text!r}: {exc}") from exc
