"""The OpenAPI description of ``/sparql``: every way to send a query, every answer it can get.

rdflib-endpoint 0.6.3 documents only ``GET ?query=`` (its POST takes a raw Request, so FastAPI
shows no body). Here the GET parameters, both POST bodies (form and direct) and every response
media type and error status are described, for people and for fuzzers (schemathesis).
"""

from __future__ import annotations

from typing import Any

from kg.serve.formats import ASK_FORMATS, GRAPH_FORMATS, SELECT_FORMATS
from kg.serve.representations import HTML

_IRI_LIST = {"type": "array", "items": {"type": "string", "format": "uri"}}
_DATASET_DOC = {
    "default-graph-uri": "A graph of the store to use as the default graph (repeatable); overrides FROM.",
    "named-graph-uri": "A graph of the store to offer to GRAPH (repeatable); overrides FROM NAMED.",
}
_FORMAT_DOC = (
    "Result format, overriding Accept: json, xml, csv, tsv (SELECT/ASK); turtle, nt, json-ld, rdf, trig, "
    "nq, n3 (CONSTRUCT/DESCRIBE); or a media type."
)


def _dataset_parameters() -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "query", "required": False, "description": doc, "schema": _IRI_LIST, "explode": True}
        for name, doc in _DATASET_DOC.items()
    ]
    params.append(
        {"name": "format", "in": "query", "required": False, "description": _FORMAT_DOC, "schema": {"type": "string"}}
    )
    return params


def _results_content() -> dict[str, Any]:
    content: dict[str, Any] = {}
    schemas = {"json": {"type": "object"}, "jsonld": {"type": ["object", "array"]}}  # JSON-LD: either
    for fmt in (*SELECT_FORMATS, *GRAPH_FORMATS):
        content.setdefault(fmt.media_type, {"schema": schemas.get(fmt.key, {"type": "string"})})
    return content


_ERROR = {
    "application/json": {
        "schema": {
            "type": "object",
            "properties": {
                "status": {"type": "integer"},
                "error": {"type": "string"},
                "detail": {"type": "string"},
            },
            "required": ["status", "error", "detail"],
        }
    },
    "text/plain": {"schema": {"type": "string"}},
}
_ERRORS: dict[str, str] = {
    "400": "Malformed request or query (the body says what, with line and column for syntax errors).",
    "403": "SPARQL Update, or a SERVICE outside the allow-list.",
    "406": "No result format the client accepts for this query form.",
    "413": "Request body or query text above its limit.",
    "503": "Too many queries at once (Retry-After), or the query exceeded its memory limit.",
    "504": "The query ran past the time limit and was stopped.",
}


def _responses(description_too: bool) -> dict[str, Any]:
    ok_content = _results_content()
    ok_doc = (
        f"Query results: SELECT/ASK as {', '.join(f.media_type for f in SELECT_FORMATS)} "
        f"(ASK: {', '.join(f.media_type for f in ASK_FORMATS)}); CONSTRUCT/DESCRIBE as "
        f"{', '.join(f.media_type for f in GRAPH_FORMATS)}. Headers X-KG-Row-Limit and X-KG-Truncated "
        "say whether the result was cut at the row limit."
    )
    if description_too:
        ok_content[HTML.media_type] = {"schema": {"type": "string"}}
        ok_doc += " Without a query: the service description (RDF, Turtle by default) or the query page (HTML)."
    responses: dict[str, Any] = {"200": {"description": ok_doc, "content": ok_content}}
    for status, doc in _ERRORS.items():
        responses[status] = {"description": doc, "content": _ERROR}
    return responses


def get_operation() -> dict[str, Any]:
    """The GET operation: ``query`` in the URL; without it, the service description or the UI."""
    query = {
        "name": "query",
        "in": "query",
        "required": False,
        "description": "The SPARQL query. Without it: the service description, or the query page for browsers.",
        "schema": {"type": "string"},
    }
    return {"parameters": [query, *_dataset_parameters()], "responses": _responses(True)}


def post_operation() -> dict[str, Any]:
    """The POST operation: a form (``query=...``) or the query itself as the body."""
    form_properties: dict[str, Any] = {"query": {"type": "string", "description": "The SPARQL query."}}
    form_properties.update({name: {**_IRI_LIST, "description": doc} for name, doc in _DATASET_DOC.items()})
    form_properties["format"] = {"type": "string", "description": _FORMAT_DOC}
    return {
        "parameters": _dataset_parameters(),
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {"type": "object", "properties": form_properties, "required": ["query"]},
                    "encoding": {name: {"explode": True} for name in _DATASET_DOC},
                },
                "application/sparql-query": {"schema": {"type": "string"}},
            },
        },
        "responses": {
            **_responses(False),
            "415": {"description": "A body that is neither form nor query.", "content": _ERROR},
        },
    }


def paths(path: str) -> dict[str, Any]:
    """The OpenAPI path item of the endpoint at ``path``."""
    return {
        path: {
            "get": {"summary": "Query with GET, or get the service description or the query page", **get_operation()},
            "post": {"summary": "Query with POST (a form or the query itself)", **post_operation()},
        }
    }
