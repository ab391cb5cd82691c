"""Turning DOT into pictures: Graphviz's ``dot`` when installed, else the pip-installed graphviz-pure.

Which program runs (:func:`find_renderer`), in order:

1. ``$MINIGRAD_DOT``, if set: the path (or name on PATH) of a ``dot``-compatible program;
2. ``dot`` on PATH (a system Graphviz);
3. ``graphviz-pure`` on PATH, or next to the running Python (a virtual environment's ``bin/``,
   the user scripts folder): the Rust port of Graphviz that ``pip install graphviz-pure`` brings
   as one static binary. It writes SVG, PNG and JPEG, not PDF;
4. otherwise :class:`RendererNotFoundError`, saying how to get either.

The ``graphviz`` Python package always runs a program called ``dot``. :class:`Digraph`, which
``draw_graph`` returns, is a ``graphviz.Digraph`` whose public ``pipe`` and ``render`` methods
(and so ``view()`` and Jupyter's inline SVG, ``_repr_mimebundle_``, which call them) run the
program above instead: a pip-only machine displays and renders it too. Only graphviz's public
API is used (``source``, ``save``, ``engine``, ``format``, ``encoding``, ``directory``, the
``ENGINES``/``FORMATS``/... sets, ``view`` and the exception classes), tested with graphviz
0.20, 0.20.3 and 0.21. Nothing global is patched; plain ``graphviz`` objects are left alone.

Raster output (PNG, JPEG) is always bounded: graphviz-pure allocates the whole bitmap, and a
large graph as PNG has been seen to take 18.8 GB. ``-Gdpi`` sets the resolution (96 by default)
and ``-Gsize`` caps the drawing at ``MAX_PIXELS / dpi`` inches a side, so a PNG is at most
``MAX_PIXELS`` (3840) pixels a side, about 60 MB of bitmap; a bigger graph is scaled down
(save it as SVG to zoom in). Command-line ``-G`` attributes override the graph's own.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import graphviz

MAX_PIXELS = 3840  # the longest side of a PNG/JPEG, in pixels, whatever the graph
DPI = 96
RASTER_FORMATS = ("png", "jpg", "jpeg")
SUFFIX_FORMATS = {".svg": "svg", ".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".pdf": "pdf"}
_PURE = "graphviz-pure"


class RendererNotFoundError(RuntimeError):
    """Neither Graphviz's ``dot`` nor graphviz-pure could be found."""


@dataclass(frozen=True)
class Renderer:
    """The program that lays out and draws DOT: ``name`` is ``dot`` or ``graphviz-pure``."""

    name: str
    path: str

    @property
    def formats(self) -> tuple[str, ...]:
        if self.name == _PURE:
            return ("svg", "png", "jpeg", "jpg", "dot", "plain")
        return ("svg", "png", "jpeg", "jpg", "pdf", "dot", "plain")


def _candidates_next_to_python() -> list[Path]:
    exe = _PURE + (".exe" if os.name == "nt" else "")
    folders = [Path(sys.executable).parent, Path(sysconfig.get_path("scripts"))]
    try:
        folders.append(Path(sysconfig.get_path("scripts", f"{os.name}_user")))
    except KeyError:  # a platform without a user scheme
        pass
    return [folder / exe for folder in folders]


def find_renderer() -> Renderer:
    """The renderer to use now (looked up on each call: PATH may change); see the module docstring."""
    forced = os.environ.get("MINIGRAD_DOT")
    if forced:
        path = shutil.which(forced)
        if path is None:
            raise RendererNotFoundError(
                f"MINIGRAD_DOT={forced!r}: no such program (give a path to Graphviz's "
                "`dot` or to `graphviz-pure`, or unset it)"
            )
        return Renderer(_PURE if _PURE in Path(path).name else "dot", path)
    path = shutil.which("dot")
    if path is not None:
        return Renderer("dot", path)
    path = shutil.which(_PURE)
    if path is not None:
        return Renderer(_PURE, path)
    for candidate in _candidates_next_to_python():
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return Renderer(_PURE, str(candidate))
    raise RendererNotFoundError(
        "minigrad.viz: no Graphviz renderer found. Install one of:\n"
        "  pip install graphviz-pure      (a Graphviz-compatible `dot` as one binary; no system packages)\n"
        "  Graphviz itself                (apt install graphviz, brew install graphviz, "
        "https://graphviz.org/download)\n"
        "or point MINIGRAD_DOT at a `dot`-compatible program. "
        "You can still save the DOT source: mg.viz.save(graph, 'graph.dot')."
    )


def bounds(fmt: str, dpi: float = DPI) -> list[str]:
    """Command-line attributes that cap a raster image at ``MAX_PIXELS`` a side (see the module docstring)."""
    if fmt.split(":")[0] in RASTER_FORMATS:
        inches = MAX_PIXELS / dpi
        return [f"-Gsize={inches:g},{inches:g}", f"-Gdpi={dpi:g}"]
    return []


def _command(
    engine: str,
    fmt: str,
    renderer: str | None = None,
    formatter: str | None = None,
    neato_no_op: Any = None,
    dpi: float = DPI,
) -> list[str]:
    """The command line that lays out DOT read from stdin with :func:`find_renderer`'s program:
    ``dot``'s own flags (``-K`` engine, ``-T`` format[:renderer[:formatter]], ``-n``), checked
    against graphviz's public ``ENGINES``, ``FORMATS``, ``RENDERERS``, ``FORMATTERS``."""
    if formatter is not None and renderer is None:
        raise graphviz.RequiredArgumentError("formatter given without renderer")
    for what, value, known in (
        ("engine", engine, graphviz.ENGINES),
        ("format", fmt, graphviz.FORMATS),
        ("renderer", renderer, graphviz.RENDERERS),
        ("formatter", formatter, graphviz.FORMATTERS),
    ):
        if value is not None and value.lower() not in known:
            raise ValueError(f"unknown {what}: {value!r} (must be one of {sorted(known)})")
    program = find_renderer()
    if fmt.split(":")[0] not in program.formats:
        raise ValueError(
            f"{program.name} ({program.path}) cannot write {fmt!r}; it writes "
            f"{', '.join(program.formats)}" + ("; install Graphviz for PDF" if fmt == "pdf" else "")
        )
    cmd = [program.path, f"-K{engine}", "-T" + ":".join(p for p in (fmt, renderer, formatter) if p is not None)]
    if neato_no_op:
        cmd.append(f"-n{neato_no_op:d}")
    return cmd + bounds(fmt, dpi)


def _run(cmd: list[str], *, stdin: bytes | None = None, cwd: Any = None, quiet: bool = False) -> bytes:
    """Run ``cmd``; its stdout. A failure raises ``graphviz.CalledProcessError`` (as graphviz does),
    and the program's messages go to stderr unless ``quiet``."""
    try:
        proc = subprocess.run(cmd, input=stdin, capture_output=True, cwd=cwd)
    except FileNotFoundError as e:  # the program went away since find_renderer saw it
        raise graphviz.ExecutableNotFound(cmd) from e
    if proc.stderr and not quiet:
        sys.stderr.write(proc.stderr.decode(errors="replace"))
        sys.stderr.flush()
    if proc.returncode:
        raise graphviz.CalledProcessError(proc.returncode, cmd, output=proc.stdout, stderr=proc.stderr)
    return proc.stdout


def _outfile_format(outfile: Path, fmt: str | None) -> str:
    """The format of ``render(outfile=...)``: from the suffix, unless ``fmt`` says otherwise (graphviz's rule)."""
    inferred = outfile.suffix[1:].lower()
    if inferred not in graphviz.FORMATS:
        if fmt is None:
            raise graphviz.RequiredArgumentError(
                f"cannot infer rendering format from suffix {outfile.suffix!r} of outfile: "
                f"{os.fspath(outfile)!r} (provide format or outfile with a suffix from "
                f"{sorted('.' + f for f in graphviz.FORMATS)})"
            )
        warnings.warn(
            f"unknown outfile suffix {outfile.suffix!r} (expected: {'.' + fmt!r})",
            category=graphviz.UnknownSuffixWarning,
            stacklevel=3,
        )
        return fmt
    if fmt is not None and fmt.lower() != inferred:
        warnings.warn(
            f"expected format {inferred!r} from outfile differs from given format: {fmt!r}",
            category=graphviz.FormatSuffixMismatchWarning,
            stacklevel=3,
        )
        return fmt
    return inferred


class Digraph(graphviz.Digraph):
    """A ``graphviz.Digraph`` (``.source``, ``.render()``, ``.pipe()``, inline SVG in Jupyter) that
    renders with :func:`find_renderer`'s program: Graphviz's ``dot``, or graphviz-pure on a
    pip-only machine. Raster output is bounded (see the module docstring).

    The hook is graphviz's two public rendering methods, ``pipe`` and ``render``, overridden with
    the same arguments and results; they build the command line themselves and feed it
    ``self.source``. Everything else is graphviz's own, and uses only these two: ``view()``
    calls ``render``, Jupyter's ``_repr_mimebundle_`` calls ``pipe``. ``unflatten()`` still needs
    Graphviz's ``unflatten`` program."""

    def pipe(
        self,
        format: str | None = None,  # noqa: A002 - graphviz's own argument names
        renderer: str | None = None,
        formatter: str | None = None,
        neato_no_op: Any = None,
        quiet: bool = False,
        *,
        engine: str | None = None,
        encoding: str | None = None,
    ) -> bytes | str:
        """The graph drawn: bytes, or text when ``encoding`` is given (``graphviz.Digraph.pipe``)."""
        cmd = _command(engine or self.engine, format or self.format, renderer, formatter, neato_no_op)
        out = _run(cmd, stdin=self.source.encode(self.encoding), quiet=quiet)
        return out if encoding is None else out.decode(encoding)

    def render(
        self,
        filename: str | os.PathLike | None = None,
        directory: str | os.PathLike | None = None,
        view: bool = False,
        cleanup: bool = False,
        format: str | None = None,  # noqa: A002 - graphviz's own argument names
        renderer: str | None = None,
        formatter: str | None = None,
        neato_no_op: Any = None,
        quiet: bool = False,
        quiet_view: bool = False,
        *,
        outfile: str | os.PathLike | None = None,
        engine: str | None = None,
        raise_if_result_exists: bool = False,
        overwrite_source: bool = False,
    ) -> str:
        """Save the DOT source (``self.save``), draw it next to it, return the drawing's path
        (``graphviz.Digraph.render``: ``outfile=`` or ``filename`` + ``format``)."""
        if outfile is not None:
            outfile = Path(outfile)
            format = _outfile_format(outfile, format)  # noqa: A001
            if directory is None:
                outfile = Path(self.directory, outfile)
            if filename is None:
                filename = outfile.with_suffix(".gv")
        fmt = format or self.format
        cmd = _command(engine or self.engine, fmt, renderer, formatter, neato_no_op)  # checked before writing
        filepath = Path(self.save(filename, directory=directory))
        if outfile is None:  # graphviz's name: the source's path + [.formatter][.renderer].format
            outfile = filepath.with_suffix(filepath.suffix + "." + ".".join(p for p in (formatter, renderer, fmt) if p))
        elif not overwrite_source and outfile.resolve() == filepath.resolve():
            raise ValueError(f"outfile {outfile.name!r} must be different from input file {filepath.name!r}")
        if raise_if_result_exists and outfile.exists():
            raise graphviz.FileExistsError(f"output file exists: {os.fspath(outfile)!r}")
        target = outfile.resolve() if outfile.parent != filepath.parent else outfile.name
        _run(
            cmd + ["-o", str(target), filepath.name],
            cwd=filepath.parent if filepath.parent.parts else None,
            quiet=quiet,
        )
        if cleanup:
            os.remove(filepath)
        if view or quiet_view:
            graphviz.view(outfile, quiet=quiet_view)
        return os.fspath(outfile)


def svg(graph: Any, *, timeout: float | None = None) -> str:
    """``graph`` (a graphviz graph, or DOT source text) drawn as SVG text by :func:`find_renderer`'s program."""
    source = graph if isinstance(graph, str) else getattr(graph, "source", None)
    if not isinstance(source, str):
        raise TypeError(
            f"svg: expected a graphviz graph (e.g. from draw_graph) or DOT text, got {type(graph).__name__}"
        )
    cmd = _command("dot", "svg")
    proc = subprocess.run(cmd, input=source.encode("utf-8"), capture_output=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(
            f"svg: {Path(cmd[0]).name} failed (exit {proc.returncode}): {proc.stderr.decode(errors='replace').strip()}"
        )
    return proc.stdout.decode("utf-8")


def save(graph: Any, path: str | os.PathLike, *, dpi: float = DPI, timeout: float | None = None) -> Path:
    """Write ``graph`` (a graphviz graph, or DOT source text) to ``path``; the suffix picks the format.

    ``.dot`` / ``.gv``: the DOT source. ``.svg``, ``.png``, ``.jpg``: drawn by :func:`find_renderer`'s
    program; a PNG at ``dpi`` dots per inch, scaled down to at most ``MAX_PIXELS`` a side.
    ``.pdf``: Graphviz's ``dot`` only. Returns the path written.
    """
    if isinstance(dpi, bool) or not isinstance(dpi, (int, float)) or not 1 <= dpi <= 600:
        raise ValueError(f"save: dpi must be a number in [1, 600], got {dpi!r}")
    path = Path(path)
    source = graph if isinstance(graph, str) else getattr(graph, "source", None)
    if not isinstance(source, str):
        raise TypeError(
            f"save: expected a graphviz graph (e.g. from draw_graph) or DOT text, got {type(graph).__name__}"
        )
    if not path.parent.is_dir():  # say so before the renderer runs (its own message names no folder)
        what = "is not a folder" if path.parent.exists() else "does not exist"
        raise FileNotFoundError(f"save: cannot write {path}: the folder {path.parent} {what}")
    if path.is_dir():
        raise IsADirectoryError(f"save: cannot write {path}: it is a directory")
    suffix = path.suffix.lower()
    if suffix in (".dot", ".gv"):
        path.write_text(source, encoding="utf-8")
        return path
    if suffix not in SUFFIX_FORMATS:
        raise ValueError(
            f"save: cannot tell the format from {str(path)!r}; use a suffix among "
            f".dot, .gv, {', '.join(SUFFIX_FORMATS)}"
        )
    fmt = SUFFIX_FORMATS[suffix]
    cmd = _command("dot", fmt, dpi=dpi) + ["-o", str(path)]
    proc = subprocess.run(cmd, input=source.encode("utf-8"), capture_output=True, timeout=timeout)
    if proc.returncode != 0 or not path.exists():
        raise RuntimeError(
            f"save: {Path(cmd[0]).name} failed to write {path} (exit {proc.returncode}): "
            f"{proc.stderr.decode(errors='replace').strip()}"
        )
    return path
