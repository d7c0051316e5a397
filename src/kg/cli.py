"""The ``kg`` command line: build, validate and serve the knowledge graph."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path


def _build(args: argparse.Namespace) -> int:
    from kg.build import run_build

    return run_build(dist_dir=args.dist, quiet=args.quiet, data_dir=args.data, ontology_dir=args.ontology)


def _validate(args: argparse.Namespace) -> int:
    from kg.validate import run_validate

    return run_validate(args.files)


def _serve(args: argparse.Namespace) -> int:
    from kg.serve.command import run

    return run(args)


def _load(args: argparse.Namespace) -> int:
    from kg.load import run

    return run(args)


def _add(args: argparse.Namespace) -> int:
    from kg.add import run

    return run(args)


def _queries(args: argparse.Namespace) -> int:
    from kg.queries import run

    return run(args)


def _docs(args: argparse.Namespace) -> int:
    from kg.docs import run_docs

    return run_docs(dist_dir=args.dist, out_dir=args.out)


def parser() -> argparse.ArgumentParser:
    """The argument parser of ``kg`` and its subcommands."""
    top = argparse.ArgumentParser(
        prog="kg",
        description="Build, validate and serve the alignkg knowledge graph "
        "(international alignment around Russia's invasion of Ukraine, 2022).",
    )
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    build = sub.add_parser(
        "build",
        help="compile data/ and ontology/ into a validated dataset in dist/",
        description="Compile the documents under data/ and the ontology into dist/ "
        "(N-Quads, TriG, ontology and shapes as Turtle). The dataset is validated with the SHACL "
        "shapes; on any error the previous dist/ is left untouched and the command exits 1.",
    )
    build.add_argument("--dist", type=Path, default=None, help="output folder (default: dist/)")
    build.add_argument("--data", type=Path, default=None, help="sources folder (default: data/)")
    build.add_argument("--ontology", type=Path, default=None, help="ontology and shapes folder (default: ontology/)")
    build.add_argument("-q", "--quiet", action="store_true", help="print only errors")
    build.set_defaults(func=_build)

    validate = sub.add_parser(
        "validate",
        help="validate RDF files against the project's SHACL shapes",
        description="Validate RDF files (Turtle, TriG, N-Quads, N-Triples, JSON-LD, RDF/XML) "
        "against ontology/shapes.ttl and print a readable report. Exits 1 on any violation.",
    )
    validate.add_argument("files", nargs="+", type=Path, help="RDF files to validate together")
    validate.set_defaults(func=_validate)

    serve = sub.add_parser(
        "serve",
        help="start the SPARQL endpoint and linked-data server",
        description="Serve the built dataset (building it first if dist/ is missing) as a SPARQL 1.1 "
        "endpoint at /sparql, with linked-data pages for every minted IRI and a query UI.",
    )
    from kg.serve.command import add_arguments

    add_arguments(serve)
    serve.set_defaults(func=_serve)

    load = sub.add_parser(
        "load",
        help="push the built dataset's named graphs to a SPARQL server (Graph Store Protocol or Update)",
        description="Load dist/alignkg.nq into a SPARQL server graph by graph (PUT per graph, or DROP + "
        "INSERT DATA with --update). Graphs already complete there are skipped: run again to resume.",
    )
    from kg.load import add_arguments as add_load_arguments

    add_load_arguments(load)
    load.set_defaults(func=_load)

    add = sub.add_parser(
        "add",
        help="register a new article under data/documents/ with the mentions of known actors",
        description="Copy an article's text byte for byte into the next data/documents/<id>/ and write "
        "its document.yaml: the metadata given here and the mentions of known actors found in the text "
        "(ambiguous names are listed for you to resolve). Refuses a text already registered.",
    )
    from kg.add import add_arguments as add_add_arguments

    add_add_arguments(add)
    add.set_defaults(func=_add)

    queries = sub.add_parser(
        "queries",
        help="list, run and keep the answers of the saved example queries (queries/*.rq)",
        description="The saved example queries: list them, run one, or write their expected answers "
        "(<name>.srj, <name>.ttl) beside them for review.",
    )
    from kg.queries import add_arguments as add_queries_arguments

    add_queries_arguments(queries)
    queries.set_defaults(func=_queries)

    docs = sub.add_parser(
        "docs",
        help="generate the ontology's HTML documentation into dist/docs/",
        description="Write dist/docs/index.html (every class and property with label, definition, domain, "
        "range and examples from the built data, and a class diagram), diagram.svg and the JSON-LD context "
        "context.jsonld. Builds dist/ first if it is missing.",
    )
    docs.add_argument("--dist", type=Path, default=None, help="built dataset folder (default: dist/)")
    docs.add_argument("--out", type=Path, default=None, help="output folder (default: <dist>/docs)")
    docs.set_defaults(func=_docs)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``kg`` command."""
    args = parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
