"""The mapping between minted IRIs (under https://w3id.org/alignkg/) and this server's URLs.

The public base resolves (through w3id.org) to the server's root, so ``BASE + "id/x"`` is served
at ``public_url + "id/x"`` and at the path ``/id/x`` of this process.
"""

from __future__ import annotations

from kg.namespaces import BASE


def is_minted(iri: str) -> bool:
    """Whether ``iri`` is one of ours (under the public base)."""
    return iri.startswith(BASE)


def server_path(iri: str) -> str | None:
    """The path (``/id/x``) this server answers a minted IRI at, or None for foreign IRIs."""
    return "/" + iri[len(BASE) :] if is_minted(iri) else None


def server_url(iri: str, public_url: str) -> str:
    """Where to link ``iri`` from our pages: minted IRIs on this server, others unchanged."""
    return public_url.rstrip("/") + "/" + iri[len(BASE) :] if is_minted(iri) else iri


def minted_iri(path: str) -> str:
    """The minted IRI a request path (``/id/x``) stands for."""
    return BASE + path.lstrip("/")
