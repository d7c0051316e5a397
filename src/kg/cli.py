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


def _queries(args: argparse.Namespace) -> int:
    from kg.queries import run

    return run(args)


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

    queries = sub.add_parser(
        "queries",
        help="list, run and keep the answers of the saved example queries (queries/*.rq)",
        description="The saved example queries: list them, run one, or write their expected answers "
        "(<name>.srj, <name>.ttl) beside them for review.",
    )
    from kg.queries import add_arguments as add_queries_arguments

    add_queries_arguments(queries)
    queries.set_defaults(func=_queries)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``kg`` command."""
    args = parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
