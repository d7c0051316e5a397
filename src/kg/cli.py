"""The ``kg`` command line: build, validate and serve the knowledge graph."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path


def _build(args: argparse.Namespace) -> int:
    from kg.build import run_build

    return run_build(dist_dir=args.dist, quiet=args.quiet, data_dir=args.data, ontology_dir=args.ontology)


def _validate(args: argparse.Namespace) -> int:
    from kg.validate import run_validate

    return run_validate(args.files, args.engine)


def _delegate(
    sub: argparse._SubParsersAction, chosen: str | None, name: str, module: str, help: str, description: str
) -> None:
    """Add subcommand ``name``, whose arguments and behaviour live in ``module`` (add_arguments, run).

    ``module`` is imported only when ``name`` is ``chosen``, the command being run (None: unknown):
    the subcommands' imports (rdflib's SPARQL parser, FastAPI, ...) cost seconds, e.g. of ``kg serve``'s
    start-up."""
    parser = sub.add_parser(name, help=help, description=description)
    if chosen is not None and chosen != name:
        return
    command = importlib.import_module(module)
    command.add_arguments(parser)
    parser.set_defaults(func=command.run)


def _docs(args: argparse.Namespace) -> int:
    from kg.docs import run_docs

    return run_docs(dist_dir=args.dist, out_dir=args.out)


def parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser of ``kg`` and its subcommands (with ``argv``: only the chosen one complete)."""
    top = argparse.ArgumentParser(
        prog="kg",
        description="Build, validate and serve the alignkg knowledge graph "
        "(international alignment around Russia's invasion of Ukraine, 2022).",
    )
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = next((arg for arg in argv if not arg.startswith("-")), "") if argv is not None else None

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
    validate.add_argument(
        "--engine",
        choices=("fast", "pyshacl"),
        default="fast",
        help="fast: pyshacl-turbo (Rust; 1M quads in well under a minute); pyshacl: the reference "
        "validator the build uses (~8 minutes at 1M quads). Both give the same results (default: fast)",
    )
    validate.set_defaults(func=_validate)

    _delegate(
        sub,
        chosen,
        "serve",
        "kg.serve.command",
        help="start the SPARQL endpoint and linked-data server",
        description="Serve the built dataset (building it first if dist/ is missing) as a SPARQL 1.1 "
        "endpoint at /sparql, with linked-data pages for every minted IRI and a query UI.",
    )

    _delegate(
        sub,
        chosen,
        "load",
        "kg.load",
        help="push the built dataset's named graphs to a SPARQL server (Graph Store Protocol or Update)",
        description="Load dist/alignkg.nq into a SPARQL server graph by graph (PUT per graph, or DROP + "
        "INSERT DATA with --update). Graphs already complete there are skipped: run again to resume.",
    )

    _delegate(
        sub,
        chosen,
        "add",
        "kg.add",
        help="register a new article under data/documents/ with the mentions of known actors",
        description="Copy an article's text byte for byte into the next data/documents/<id>/ and write "
        "its document.yaml: the metadata given here and the mentions of known actors found in the text "
        "(ambiguous names are listed for you to resolve). Refuses a text already registered.",
    )

    _delegate(
        sub,
        chosen,
        "queries",
        "kg.queries",
        help="list, run and keep the answers of the saved example queries (queries/*.rq)",
        description="The saved example queries: list them, run one, or write their expected answers "
        "(<name>.srj, <name>.ttl) beside them for review.",
    )

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
    argv = sys.argv[1:] if argv is None else argv
    args = parser(argv).parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
