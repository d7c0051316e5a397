"""The Oxigraph store the server queries: which files to load, and loading them with Oxigraph's parsers.

The store lives on disk (RocksDB) even when the user asked for no ``--store``: then it is a
temporary folder in ``/dev/shm`` (memory-backed) removed on exit. A folder, not Oxigraph's
in-memory store, because the server's query workers are separate processes that open it with
``Store.read_only`` and share its pages through the OS page cache (see ``kg.serve.workers``).
The in-memory store, one copy per worker, was measured against it: three times faster joins, a
slower scan, a reload after each worker restart (``bench/RESULTS.md``).

Its default graph is the merge of all the graphs loaded, written out while loading
(:mod:`kg.default_graph`): queries run on it without Oxigraph's union view, which repeats a triple
stated in two graphs. Loading runs in a child process, so the server keeps none of the loader's
memory. After the bulk load the store is compacted (``Store.optimize``, what ``oxigraph optimize`` does and Oxigraph
advises for a read-only endpoint under load): at 1M quads it takes 1.5 s and makes joins ~15 %,
scans ~8 % faster; its files grow from 170 to 312 MB (427 MB with the default graph written out).
Oxigraph's parsers fetch nothing: no remote JSON-LD contexts, no XML external entities, no
``owl:imports``. rdflib never holds a copy of the data while serving.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox

from kg import default_graph
from kg.config import DATASET_NQ, DATASET_TRIG

MARKER = "kg-source.json"
"""File in a store folder recording which data files it was loaded from, and how."""
LAYOUT = "default graph = merge of all graphs"
"""How a store is laid out; a kept store laid out otherwise (by an older version) is loaded again."""
SHARED_MEMORY = Path("/dev/shm")
TEMPORARY_PREFIX = "kg-store-"
EXIT_ORPHANED = 3
"""Exit code of a child whose parent died before it could ask to die with it."""


class LoadError(Exception):
    """A data file could not be loaded (message says which file and where)."""


@dataclass(frozen=True)
class Sources:
    """What to load into the store, and which files to offer as downloads."""

    files: tuple[Path, ...]
    dumps: tuple[Path, ...]


def sources(data: Sequence[Path]) -> Sources:
    """The files behind ``--data``: a dist folder means its N-Quads (and its TriG as a dump)."""
    files: list[Path] = []
    dumps: list[Path] = []
    for path in data:
        if path.is_dir():
            dataset = path / DATASET_NQ
            if not dataset.is_file():
                raise LoadError(f"{path} is a folder without {DATASET_NQ}: not a dist folder")
            files.append(dataset)
            dumps.extend(p for p in (dataset, path / DATASET_TRIG) if p.is_file())
        elif path.is_file():
            rdf_format(path)
            files.append(path)
            dumps.append(path)
        else:
            raise LoadError(f"{path}: no such file or folder")
    if not files:
        raise LoadError("no data to serve")
    return Sources(tuple(files), tuple(dumps))


def rdf_format(path: Path) -> ox.RdfFormat:
    """Oxigraph's format for a file, from its extension."""
    found = ox.RdfFormat.from_extension(path.suffix.lstrip(".").lower())
    if found is None:
        raise LoadError(f"{path}: unknown RDF file type {path.suffix!r} (use .nq, .trig, .ttl, .nt, .jsonld, .rdf)")
    return found


def _signature(files: Sequence[Path]) -> dict[str, object]:
    loaded = [{"path": str(p.resolve()), "size": p.stat().st_size, "mtime_ns": p.stat().st_mtime_ns} for p in files]
    return {"layout": LAYOUT, "files": loaded}


def load(folder: Path, files: Sequence[Path]) -> float:
    """Bulk-load ``files`` into a fresh store in ``folder`` (and their named graphs into its default
    graph); returns the seconds it took."""
    started = time.perf_counter()
    store = ox.Store(str(folder))
    try:
        for path in files:
            try:
                default_graph.bulk_load(store, path, rdf_format(path))
            except SyntaxError as exc:
                raise LoadError(f"{path}: {exc}") from exc
        store.flush()
        store.optimize()  # compacted once for a read-only workload (see the module docstring)
    finally:
        del store
    (folder / MARKER).write_text(json.dumps(_signature(files), indent=1), "utf-8")
    return time.perf_counter() - started


class Loading:
    """A store being loaded by a child process (``python -m kg.store``), so the server keeps none of
    the loader's memory (~1 GB per million quads at its peak) and can import and build its web
    application meanwhile. ``wait()`` returns when the store is ready."""

    def __init__(self, folder: Path, files: Sequence[Path] = ()) -> None:
        self.folder = folder
        self.process: subprocess.Popen[bytes] | None = None
        if files:
            command = [sys.executable, "-m", "kg.store", str(os.getpid()), str(folder), *map(str, files)]
            self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def wait(self) -> Path:
        """The store's folder, once loaded; raises LoadError if the loader failed."""
        if self.process is not None:
            _, error = self.process.communicate()
            if self.process.returncode != 0:
                message = error.decode("utf-8", "replace").strip()
                raise LoadError(message or f"loading {self.folder} failed (exit code {self.process.returncode})")
        return self.folder

    def stop(self) -> None:
        """Kill the loader if it is still running (the server is stopping)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def is_current(folder: Path, files: Sequence[Path]) -> bool:
    """Whether ``folder`` holds a store loaded from exactly these files, unchanged since."""
    marker = folder / MARKER
    try:
        return json.loads(marker.read_text("utf-8")) == _signature(files)
    except (OSError, ValueError):
        return False


def _clear(folder: Path) -> None:
    """Make ``folder`` an empty folder, refusing one that holds anything but a store of ours."""
    if folder.exists() and any(folder.iterdir()):
        if not (folder / MARKER).exists():
            raise LoadError(f"{folder} is not empty and is not a store made by kg serve: not touching it")
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).write_text("null", "utf-8")  # ours, not loaded yet: cleared again next time if cut short


@contextmanager
def loading_store(files: Sequence[Path], folder: Path | None = None) -> Iterator[Loading]:
    """Start loading ``files`` into ``folder`` (kept; reused while the files are unchanged) or into a
    temporary folder (removed on the way out, whatever the exit: an exception, SIGTERM or SIGINT
    turned into one, or a failed loader). A loader still running on the way out is killed."""
    if folder is not None:
        if is_current(folder, files):
            yield Loading(folder)
            return
        _clear(folder)
        loading = Loading(folder, files)
        try:
            yield loading
        finally:
            loading.stop()
        return
    parent = SHARED_MEMORY if SHARED_MEMORY.is_dir() and _writable(SHARED_MEMORY) else Path(tempfile.gettempdir())
    remove_stale(parent)
    temporary = Path(tempfile.mkdtemp(prefix=f"{TEMPORARY_PREFIX}{os.getpid()}-", dir=parent))
    loading = None
    try:
        loading = Loading(temporary, files)
        yield loading
    finally:
        if loading is not None:
            loading.stop()
        shutil.rmtree(temporary, ignore_errors=True)


@contextmanager
def serving_store(files: Sequence[Path], folder: Path | None = None) -> Iterator[Path]:
    """A loaded store folder for the duration: ``folder`` (kept) or a temporary one (removed)."""
    with loading_store(files, folder) as loading:
        yield loading.wait()


def remove_stale(parent: Path) -> None:
    """Remove temporary stores left by servers that were killed (SIGKILL leaves no time to clean up).

    Only folders that are provably ours and abandoned: named ``kg-store-<pid>-...``, owned by this
    user, and ``<pid>`` is not running. A reused pid keeps its folder (until that process ends)."""
    for folder in parent.glob(f"{TEMPORARY_PREFIX}*-*"):
        pid = folder.name[len(TEMPORARY_PREFIX) :].split("-", 1)[0]
        try:
            owned = folder.lstat().st_uid == os.getuid() and folder.is_dir() and not folder.is_symlink()
        except OSError:
            continue
        if owned and pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(folder, ignore_errors=True)


def die_with_parent(parent: int) -> None:
    """Ask Linux to kill this process when ``parent``, the process that started it, dies
    (``PR_SET_PDEATHSIG``); exit at once if it died already (before the request, which then
    never fires: the child would be left running on its own)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)
    except OSError:
        pass
    if os.getppid() != parent:
        os._exit(EXIT_ORPHANED)


def _writable(folder: Path) -> bool:
    try:
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


def main(argv: Sequence[str]) -> int:
    """``python -m kg.store PARENT_PID FOLDER FILE...``: load the files into a new store in FOLDER."""
    parent, folder, *files = argv
    die_with_parent(int(parent))  # a killed server leaves no loader behind
    try:
        load(Path(folder), [Path(f) for f in files])
    except LoadError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
