"""Credentials for the SPARQL backend: ``kg load --to`` and ``kg serve --backend`` through a loopback
proxy (tests/auth_proxy.py) that lets a request reach a real ``oxigraph serve`` only with the right
``Authorization`` header. The right credential works (HTTP Basic with the password from the
environment or a file, a bearer token from either); a wrong or missing one gives a clear error
naming the options to set; the secret appears in no message, log line, description or page.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyoxigraph as ox
import pytest

from auth_proxy import AuthProxy, auth_proxy, basic, bearer
from kg.serve.settings import add_arguments, env_names, from_sources
from server import RunningServer, run_server
from test_remote import Loaded, Oxigraph
from test_remote import kg_load as _kg_load

MINI = Path(__file__).parent / "fixtures" / "mini.trig"
USER = "loader"
PASSWORD = "pw-Zq81-secret"
TOKEN = "tok-Xv55-secret"
WRONG = "wrong-Kp20-secret"
COUNT = "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }"
PUBLIC_PATHS = ["/sparql", "/.well-known/void", "/queries", "/id/ukraine"]
"""What a visitor sees: the query page (HTML) and service description (Turtle), VoID, a page."""


def local_counts() -> dict[str, int]:
    return dict(Counter(q.graph_name.value for q in ox.parse(path=str(MINI), format=ox.RdfFormat.TRIG)))


def kg_load(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], *args: str) -> Loaded:
    """``kg load --data MINI ARGS`` with exactly the ``KG_LOAD_*`` variables in ``env``."""
    for name in ("KG_LOAD_USER", "KG_LOAD_PASSWORD", "KG_LOAD_PASSWORD_FILE", "KG_LOAD_TOKEN", "KG_LOAD_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return _kg_load("--data", str(MINI), *args)


def assert_secret_kept(text: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in text, f"a secret leaked: {text[:2000]}"


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Oxigraph]:
    with Oxigraph.running(tmp_path_factory.mktemp("oxigraph-auth")) as server:
        yield server


@pytest.fixture(scope="module")
def basic_proxy(engine: Oxigraph) -> Iterator[AuthProxy]:
    with auth_proxy(engine.base, basic(USER, PASSWORD)) as proxy:
        yield proxy


@pytest.fixture(scope="module")
def token_proxy(engine: Oxigraph) -> Iterator[AuthProxy]:
    with auth_proxy(engine.base, bearer(TOKEN)) as proxy:
        yield proxy


@pytest.fixture
def gate(loaded: Oxigraph) -> Iterator[AuthProxy]:
    """A proxy letting everything through until the test sets ``expected`` (``kg serve`` waits for an answer)."""
    with auth_proxy(loaded.base, None) as proxy:
        yield proxy


@pytest.fixture(scope="module")
def token_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("secrets") / "token"
    path.write_text(TOKEN + "\n", "utf-8")
    return path


# kg load --to -----------------------------------------------------------------------------


def test_load_with_basic_credentials(monkeypatch: pytest.MonkeyPatch, basic_proxy: AuthProxy, engine: Oxigraph) -> None:
    passed = basic_proxy.passed
    done = kg_load(
        monkeypatch, {"KG_LOAD_PASSWORD": PASSWORD}, "--to", basic_proxy.url + "/store", "--user", USER, "--replace"
    )
    assert done.returncode == 0, done.stderr
    assert basic_proxy.passed - passed == len(local_counts())
    assert engine.counts() == local_counts()
    assert_secret_kept(done.stderr, PASSWORD)


def test_load_with_a_token_file_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, token_proxy: AuthProxy, token_file: Path, engine: Oxigraph
) -> None:
    """Without --replace: each graph is counted first (an authenticated GET); the one missing is loaded."""
    want = local_counts()
    _kg_load("--to", engine.store_url, "--data", str(MINI), "--replace")
    httpx.delete(engine.store_url, params={"graph": min(want)}).raise_for_status()
    done = kg_load(monkeypatch, {"KG_LOAD_TOKEN_FILE": str(token_file)}, "--to", token_proxy.url + "/store")
    assert done.returncode == 0, done.stderr
    assert f"done (1 loaded, {len(want) - 1} already there)" in done.stderr
    assert engine.counts() == local_counts()
    assert_secret_kept(done.stderr, TOKEN)


@pytest.mark.parametrize(
    ("env", "args"),
    [({}, []), ({"KG_LOAD_PASSWORD": WRONG}, ["--user", USER]), ({"KG_LOAD_TOKEN": WRONG}, [])],
    ids=["missing", "wrong password", "wrong token"],
)
def test_load_refused_names_the_options(
    monkeypatch: pytest.MonkeyPatch, basic_proxy: AuthProxy, env: dict[str, str], args: list[str]
) -> None:
    refused = basic_proxy.refused
    done = kg_load(monkeypatch, env, "--to", basic_proxy.url + "/store", *args)
    assert basic_proxy.refused > refused, "the proxy was not asked"
    assert done.returncode == 1
    assert "refused us (401 Unauthorized)" in done.stderr
    assert "--user with KG_LOAD_PASSWORD or --password-file, or KG_LOAD_TOKEN or --token-file" in done.stderr
    assert_secret_kept(done.stderr, WRONG)


def test_load_credentials_in_the_url_stay_out_of_messages(
    monkeypatch: pytest.MonkeyPatch, basic_proxy: AuthProxy
) -> None:
    url = basic_proxy.url.replace("http://", f"http://{USER}:{WRONG}@") + "/store"
    done = kg_load(monkeypatch, {}, "--to", url)
    assert done.returncode == 1 and "401" in done.stderr
    assert basic_proxy.url + "/store" in done.stderr
    assert_secret_kept(done.stderr, WRONG)


@pytest.mark.parametrize(
    ("env", "args", "message"),
    [
        ({}, ["--user", USER], "--user needs a password: set KG_LOAD_PASSWORD or --password-file"),
        ({"KG_LOAD_PASSWORD": PASSWORD}, [], "give the user name too (--user)"),
        ({"KG_LOAD_TOKEN": TOKEN, "KG_LOAD_PASSWORD": PASSWORD}, ["--user", USER], "not both"),
        ({"KG_LOAD_PASSWORD": PASSWORD, "KG_LOAD_PASSWORD_FILE": "/dev/null"}, ["--user", USER], "not both"),
        ({}, ["--token-file", "/nonexistent/token"], "--token-file: cannot read /nonexistent/token"),
    ],
)
def test_load_credential_options_must_fit(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], args: list[str], message: str
) -> None:
    done = kg_load(monkeypatch, env, "--to", "http://127.0.0.1:9/store", *args)
    assert done.returncode == 2
    assert message in done.stderr
    assert_secret_kept(done.stderr, PASSWORD, TOKEN)


# kg serve --backend -----------------------------------------------------------------------


def assert_nothing_shows(server: RunningServer, *secrets: str) -> None:
    """No public page, description or log line holds a secret."""
    for path in PUBLIC_PATHS:
        for accept in ("text/html", "text/turtle"):
            page = httpx.get(server.base_url + path, headers={"Accept": accept}, timeout=30)
            assert page.status_code in (200, 406, 502), (path, accept, page.status_code, page.text[:500])
            assert_secret_kept(page.text, *secrets)
            assert_secret_kept(str(page.headers), *secrets)
    assert_secret_kept(server.log(), *secrets)


def counted(server: RunningServer) -> httpx.Response:
    return httpx.post(server.base_url + "/sparql", data={"query": COUNT}, headers={"Accept": "text/csv"}, timeout=30)


@pytest.fixture(scope="module")
def loaded(engine: Oxigraph) -> Oxigraph:
    """The engine holding MINI (loaded directly, not through a proxy)."""
    assert _kg_load("--to", engine.store_url, "--data", str(MINI), "--replace").returncode == 0
    return engine


def test_serve_with_basic_credentials(basic_proxy: AuthProxy, loaded: Oxigraph) -> None:
    backend = basic_proxy.url + "/query"
    with run_server(MINI, "--backend", backend, "--backend-user", USER, env={"KG_BACKEND_PASSWORD": PASSWORD}) as front:
        answer = counted(front)
        assert answer.status_code == 200, answer.text
        assert answer.text.split()[1] == str(sum(local_counts().values()))
        page = httpx.get(front.base_url + "/id/ukraine", headers={"Accept": "text/html"}, timeout=30)
        assert page.status_code == 200 and "Ukraine" in page.text
        assert_nothing_shows(front, PASSWORD)


def test_serve_with_a_token_file(token_proxy: AuthProxy, token_file: Path, loaded: Oxigraph) -> None:
    passed = token_proxy.passed
    with run_server(MINI, "--backend", token_proxy.url + "/query", "--backend-token-file", str(token_file)) as front:
        answer = counted(front)
        assert answer.status_code == 200, answer.text
        assert token_proxy.passed > passed
        assert_nothing_shows(front, TOKEN)


@pytest.mark.parametrize(
    ("args", "env", "said"),
    [
        ([], {}, "asks for credentials (401)"),
        (["--backend-user", USER], {"KG_BACKEND_PASSWORD": WRONG}, "refused our credentials (401)"),
        ([], {"KG_BACKEND_TOKEN": WRONG}, "refused our credentials (401)"),
    ],
    ids=["missing", "wrong password", "wrong token"],
)
def test_serve_refused_is_502_naming_the_options(
    gate: AuthProxy, args: list[str], env: dict[str, str], said: str
) -> None:
    backend = gate.url + "/query"
    with run_server(MINI, "--backend", backend, *args, env=env) as front:
        gate.expected = basic(USER, PASSWORD)
        answer = counted(front)
        assert answer.status_code == 502, answer.text
        assert f"The SPARQL backend at {backend} {said}" in answer.text
        assert "--backend-user with KG_BACKEND_PASSWORD or --backend-password-file" in answer.text
        assert "KG_BACKEND_TOKEN or --backend-token-file" in answer.text
        assert_secret_kept(answer.text, WRONG)
        assert_nothing_shows(front, WRONG)


def test_serve_credentials_in_the_url_stay_out_of_messages(gate: AuthProxy) -> None:
    backend = gate.url.replace("http://", f"http://{USER}:{WRONG}@") + "/query"
    with run_server(MINI, "--backend", backend) as front:
        gate.expected = basic(USER, PASSWORD)
        answer = counted(front)
        assert answer.status_code == 502 and "refused our credentials (401)" in answer.text
        assert gate.url + "/query" in answer.text
        assert_nothing_shows(front, WRONG)


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--backend-user", USER], {}, "--backend-user needs a password: set KG_BACKEND_PASSWORD"),
        ([], {"KG_BACKEND_PASSWORD": PASSWORD}, "give the user name too (--backend-user)"),
        (["--backend-user", USER], {"KG_BACKEND_PASSWORD": PASSWORD, "KG_BACKEND_TOKEN": TOKEN}, "not both"),
        (["--backend-token-file", "/nonexistent/t"], {}, "--backend-token-file: cannot read /nonexistent/t"),
    ],
)
def test_serve_credential_options_must_fit(args: list[str], env: dict[str, str], message: str) -> None:
    command = [sys.executable, "-m", "kg.cli", "serve", "--data", str(MINI), "--backend", "http://127.0.0.1:9/query"]
    done = subprocess.run(command + args, env={**_clean_env(), **env}, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert message in done.stderr
    assert_secret_kept(done.stderr, PASSWORD, TOKEN)


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in env_names()}


def test_secrets_have_no_flag_and_stay_out_of_repr(tmp_path: Path) -> None:
    """The password and token are read from the environment or a file only, and never printed with the settings."""
    password_file = tmp_path / "password"
    password_file.write_text(PASSWORD + "\nignored second line\n", "utf-8")
    settings = from_sources(
        None,
        {
            "KG_BACKEND": "http://127.0.0.1:9/query",
            "KG_BACKEND_USER": USER,
            "KG_BACKEND_PASSWORD_FILE": str(password_file),
        },
    )
    assert settings.backend_password == PASSWORD
    assert_secret_kept(repr(settings), PASSWORD)
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    flags = {flag for action in parser._actions for flag in action.option_strings}
    assert {"--backend-user", "--backend-password-file", "--backend-token-file"} <= flags
    assert not {"--backend-password", "--backend-token"} & flags
    with pytest.raises(ValueError, match="--backend is not"):
        from_sources(None, {"KG_BACKEND_TOKEN": TOKEN})
