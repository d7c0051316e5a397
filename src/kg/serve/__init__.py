"""``kg serve``: the SPARQL 1.1 endpoint and linked-data server over the built dataset.

Map of the package (endpoint core):

- ``command``: the CLI (options in ``settings``, one dataclass, flags and ``KG_*`` variables);
- ``stop_signals``: SIGTERM and Ctrl-C while the server starts, then handed to uvicorn;
- ``app``: the FastAPI application, its router list and lifespan;
- ``sparql``: ``/sparql`` (rdflib-endpoint's router, our handlers and service description);
- ``protocol`` (reading requests), ``formats`` (result formats, ``format=``), ``errors``;
- ``workers`` / ``worker`` / ``ipc``: killable query processes over a read-only Oxigraph store;
- ``guard``: the SERVICE allow-list check; ``stats``, ``void``, ``documents``: descriptions;
- ``public``: the mapping between minted IRIs and this server's URLs.

This package's ``__init__`` imports nothing: query workers import its light modules only.
"""
