"""The YASGUI query page, served from the project's own npm install rather than a CDN.

The browser build of ``@zazuko/yasgui`` comes from the npm registry through the project's
package.json and lock file (``npm ci``) and lives in ``node_modules/``, which is never committed.
``KG_ASSETS_DIR`` points at another ``node_modules`` folder. When the files are missing the page
and the assets route say how to install them instead of rendering a blank page.
"""

from __future__ import annotations

import html
import json
import logging
import os
from importlib.resources import files
from pathlib import Path
from string import Template
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response

from kg.config import settings
from kg.namespaces import BASE

INSTALL_COMMAND = "npm ci"
ASSETS_ENV = "KG_ASSETS_DIR"
ASSETS_PATH = "/assets/yasgui"
YASGUI_PACKAGE = Path("@zazuko", "yasgui", "build")
# The build files a page needs (the source map only helps a developer's browser tools).
ASSET_TYPES = {
    "yasgui.min.js": "text/javascript; charset=utf-8",
    "yasgui.min.css": "text/css; charset=utf-8",
    "yasgui.min.js.map": "application/json",
}
REQUIRED_ASSETS = ("yasgui.min.js", "yasgui.min.css")

log = logging.getLogger(__name__)


def node_modules_dir() -> Path:
    """The ``node_modules`` folder to serve from: ``$KG_ASSETS_DIR`` or the project root's."""
    override = os.environ.get(ASSETS_ENV)
    return Path(override) if override else settings().root / "node_modules"


def build_dir() -> Path:
    """The folder holding YASGUI's browser build."""
    return node_modules_dir() / YASGUI_PACKAGE


def assets_installed() -> bool:
    """Whether every file the page loads is present."""
    folder = build_dir()
    return all((folder / name).is_file() for name in REQUIRED_ASSETS)


def install_hint() -> str:
    """One line telling an operator how to get the assets (no server paths: the page may be public)."""
    return (
        f"YASGUI assets are not installed: run `{INSTALL_COMMAND}` in the project root "
        f"(the folder with package.json), or set {ASSETS_ENV} to a node_modules folder "
        "that holds @zazuko/yasgui."
    )


def _report_missing() -> None:
    log.warning("YASGUI assets not found in %s. %s", build_dir(), install_hint())


def _script_json(value: Any) -> str:
    """JSON that is safe inside a ``<script>`` element (no ``</script>`` can close it early)."""
    return json.dumps(value, ensure_ascii=False).replace("<", "\\u003c")


def _render(template: str, **values: str) -> str:
    source = files("kg").joinpath("templates", template).read_text("utf-8")
    return Template(source).substitute(values)


def _tab(example: dict[str, Any]) -> dict[str, str]:
    name = str(example.get("name", ""))
    return {"name": name, "title": str(example.get("title") or name), "query": str(example["query"])}


def yasgui_response(title: str, endpoint_path: str, examples: list[dict[str, Any]]) -> Response:
    """The query page: one YASGUI tab per example (the first active), querying ``endpoint_path``.

    ``endpoint_path`` is resolved in the browser against the page's own URL, so ``/sparql`` works
    on any host and port and a relative path such as ``sparql`` also survives a path prefix.
    Result links to IRIs under our base point at this server's pages (beside the endpoint).
    """
    if not assets_installed():
        _report_missing()
        page = _render(
            "yasgui-missing.html",
            title=html.escape(title),
            command=html.escape(INSTALL_COMMAND),
            assets_env=ASSETS_ENV,
            endpoint=html.escape(endpoint_path),
            endpoint_json=_script_json(endpoint_path),
        )
        return HTMLResponse(page)
    config = {"endpoint": endpoint_path, "base": BASE, "examples": [_tab(example) for example in examples]}
    page = _render("yasgui.html", title=html.escape(title), assets=ASSETS_PATH, config=_script_json(config))
    return HTMLResponse(page)


async def _asset(request: Request) -> Response:
    name = request.path_params["name"]
    media_type = ASSET_TYPES.get(name)
    if media_type is None:
        return PlainTextResponse(f"{name} is not a YASGUI asset.", status_code=404)
    path = build_dir() / name
    if not path.is_file():
        _report_missing()
        return PlainTextResponse(install_hint(), status_code=404)
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": "no-cache"})


def mount_assets(app: FastAPI) -> None:
    """Serve YASGUI's build files at ``/assets/yasgui/<file>``."""
    app.add_route(f"{ASSETS_PATH}/{{name}}", _asset, methods=["GET"], include_in_schema=False)
