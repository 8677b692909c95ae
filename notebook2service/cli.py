"""The `nb2svc` command: a thin shell over the library."""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import __version__

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def _codes(value: str) -> tuple[str, ...]:
    from .linter.registry import RULES

    codes = tuple(c.strip().upper() for c in value.replace(" ", ",").split(",") if c.strip())
    for c in codes:
        if c != "ALL" and not any(code.startswith(c) for code in RULES):
            raise argparse.ArgumentTypeError(
                f"unknown rule code or prefix: {c!r} (see `nb2svc rules`)"
            )
    return codes


def _merge(values: list[tuple[str, ...]] | None) -> tuple[str, ...] | None:
    return tuple(c for v in values for c in v) if values else None


#: each command's help and description
_ABOUT: dict[str, dict[str, str]] = {
    "lint": {
        "help": "check notebooks for hidden state and production blockers (never runs them)",
        "description": "Check notebooks statically for hidden state and production blockers. "
        "Exit status: 0 no findings, 1 findings, 2 usage or input error.",
    },
    "convert": {
        "help": "lift a notebook into a Python package that replays it (never runs it)",
        "description": "Convert a notebook into an importable package: cells become step "
        "functions with explicit inputs and outputs, `python -m NAME` replays the notebook "
        "top-down. Nothing is executed.",
    },
    "verify": {
        "help": "EXECUTE the notebook and its converted package and compare what they print",
        "description": "Runs the notebook in a fresh kernel (papermill) and the converted package "
        "in a fresh process, then says whether their stdout is equal or names the first cell "
        "that differs and the likely cause. This command executes code.",
    },
    "check-converted": {
        "help": "fail when a converted package is stale (its notebook's code changed)",
        "description": "Compare each converted package's nb2svc.json with its notebook: the "
        "package is stale when the notebook's code changed since it was converted (outputs "
        "do not count). PATHS are nb2svc.json files, folders to search, or notebooks (then the "
        "packages converted from them are checked); default: every package in the repository. "
        "Exit status: 0 all up to date, 1 a package is stale or its notebook is gone, 2 error.",
    },
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nb2svc",
        description="Take a Jupyter notebook to production: lint it, convert it to a package and a service.",
    )
    parser.add_argument("--version", action="version", version=f"nb2svc {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in (
        _lint_parser,
        _convert_parser,
        _verify_parser,
        _train_parser,
        _serve_parser,
        _build_parser,
        _rules_parsers,
        _check_converted_parser,
    ):
        add(sub)
    return parser


def _lint_parser(sub: Any) -> None:
    lint = sub.add_parser("lint", **_ABOUT["lint"])
    lint.add_argument(
        "paths", nargs="*", default=["."], help="notebooks or folders (recursive); default: ."
    )
    lint.add_argument(
        "--format",
        "--output-format",
        dest="format",
        default="text",
        choices=["text", "json", "sarif", "github"],
        help="output format (default: text)",
    )
    lint.add_argument(
        "--select",
        type=_codes,
        action="append",
        metavar="CODES",
        help="only these rule codes or prefixes, comma-separated (replaces the configured selection)",
    )
    lint.add_argument(
        "--extend-select",
        type=_codes,
        action="append",
        metavar="CODES",
        help="add rule codes or prefixes to the selection",
    )
    lint.add_argument(
        "--ignore",
        type=_codes,
        action="append",
        metavar="CODES",
        help="skip these rule codes or prefixes (added to the configured ignores)",
    )
    _lint_output_options(lint)


def _lint_output_options(lint: Any) -> None:
    lint.add_argument(
        "--exit-zero", action="store_true", help="exit 0 even when there are findings"
    )
    lint.add_argument(
        "--fail-on",
        choices=["info", "warning", "error"],
        default="warning",
        help="lowest severity that makes the exit status 1 (default: warning; "
        "info findings are shown but do not fail)",
    )
    lint.add_argument(
        "--fix",
        action="store_true",
        help="apply safe fixes (clear stale execution counts); rewrites the notebooks",
    )
    lint.add_argument("--no-cache", action="store_true", help="do not read or write .nb2svc_cache")
    lint.add_argument(
        "--isolated", action="store_true", help="ignore [tool.nb2svc] in pyproject.toml"
    )
    lint.add_argument(
        "--jobs",
        "-j",
        type=int,
        default=None,
        metavar="N",
        help="worker processes (default: CPU count)",
    )
    lint.add_argument("--output-file", "-o", metavar="FILE", help="write the report to FILE")
    lint.add_argument("--quiet", "-q", action="store_true", help="text format: no summary line")


def _format_option(parser: Any, help: str = "text (default) or json") -> None:
    parser.add_argument(
        "--format", dest="format", choices=["text", "json"], default="text", help=help
    )


def _convert_parser(sub: Any) -> None:
    conv = sub.add_parser("convert", **_ABOUT["convert"])
    conv.add_argument("notebook", help="the .ipynb to convert")
    conv.add_argument("-o", "--output", metavar="DIR", help="output folder (default: build/NAME)")
    conv.add_argument("--name", help="package (import) name (default: from the file name)")
    conv.add_argument("--force", action="store_true", help="replace the output folder if it exists")
    conv.add_argument(
        "--model",
        metavar="NAME",
        help="the fitted estimator to serve (default: the last one fitted and used to predict)",
    )
    _format_option(conv, "how to print the summary (json prints the manifest)")


def _verify_parser(sub: Any) -> None:
    ver = sub.add_parser("verify", **_ABOUT["verify"])
    ver.add_argument("notebook")
    ver.add_argument("--timeout", type=float, default=600, help="seconds per run (default: 600)")
    ver.add_argument("--keep", metavar="DIR", help="keep the executed notebook and package in DIR")
    ver.add_argument(
        "--seed",
        type=int,
        metavar="N",
        help="start both runs with random and numpy's global generator seeded with N",
    )
    _format_option(ver)


def _train_parser(sub: Any) -> None:
    tr = sub.add_parser(
        "train",
        help="RUN a converted package's bin/train locally (/opt/ml relocated to OUT/.sagemaker)",
    )
    tr.add_argument("package_dir", help="the folder `nb2svc convert` wrote")
    tr.add_argument(
        "--data",
        action="append",
        default=[],
        metavar="CHANNEL=PATH",
        help="a channel's data (file or folder), e.g. train=data/",
    )
    tr.add_argument(
        "--hp", action="append", default=[], metavar="NAME=VALUE", help="a hyperparameter"
    )
    tr.add_argument(
        "--base", metavar="DIR", help="the relocated /opt/ml (default: PACKAGE_DIR/.sagemaker)"
    )


def _serve_parser(sub: Any) -> None:
    sv = sub.add_parser(
        "serve", help="RUN a converted package's bin/serve locally on the model trained there"
    )
    sv.add_argument("package_dir")
    sv.add_argument("--port", type=int, default=8080)
    sv.add_argument("--host", default="127.0.0.1")
    sv.add_argument("--workers", type=int)
    sv.add_argument(
        "--base", metavar="DIR", help="the relocated /opt/ml (default: PACKAGE_DIR/.sagemaker)"
    )


def _rules_parsers(sub: Any) -> None:
    sub.add_parser("rules", help="list the rules with their codes, kinds and severities")
    rule = sub.add_parser("rule", help="print one rule's documentation")
    rule.add_argument("code", help="a rule code, e.g. NB103")


def _check_converted_parser(sub: Any) -> None:
    chk = sub.add_parser("check-converted", **_ABOUT["check-converted"])
    chk.add_argument("paths", nargs="*", help="nb2svc.json files, folders or notebooks")
    _format_option(chk)
    chk.add_argument("--quiet", "-q", action="store_true", help="print only stale packages")


def _convert(args: argparse.Namespace) -> int:

    from .convert import ConvertError, convert
    from .redact import excerpt, redact
    from .render import OutputExistsError

    try:
        result = convert(
            args.notebook, args.output, name=args.name, force=args.force, model=args.model
        )
    except (ConvertError, OutputExistsError) as exc:
        print(redact(f"nb2svc: error: {args.notebook}: {exc}"), file=sys.stderr)
        return EXIT_ERROR
    m = result.manifest
    if args.format == "json":
        print(m.dumps(), end="")
    else:
        print(f"Converted {args.notebook} -> {result.out_dir}/ (package `{result.package}`)")
        for step in m.steps:
            cells = ", ".join(str(c) for c in step["cells"])
            params = ", ".join(step["parameters"])
            rets = ", ".join(step["returns"])
            print(
                f"  {step['function']}({params})"
                + (f" -> {rets}" if rets else "")
                + f"   cells {cells}"
            )
        for a in m.ipython:
            if a["action"] in ("comment", "data", "file", "requirement"):
                print(
                    f"  cell {a['cell']}:{a['line']}: {excerpt(a['syntax'], 61)} -> {a['action']} "
                    f"{excerpt(a['detail'], 61)}"
                )
        for f in m.findings:
            where = f" cell {f.cell.index}" if f.cell is not None else ""
            print(f"  {f.severity}:{where} [{f.code}] {f.message}")
        print(f"Run it: PYTHONPATH={result.out_dir} python -m {result.package}")
    errors = [f for f in m.findings if f.severity == "error"]
    return EXIT_FINDINGS if errors else EXIT_OK


def _verify(args: argparse.Namespace) -> int:
    import json

    from .verify import VerifyError, report_text, verify

    print("nb2svc verify executes the notebook and the converted package.", file=sys.stderr)
    try:
        report = verify(args.notebook, timeout=args.timeout, workdir=args.keep, seed=args.seed)
    except VerifyError as exc:
        print(f"nb2svc: error: {args.notebook}: {exc}", file=sys.stderr)
        return EXIT_ERROR
    if args.format == "json":
        print(json.dumps(report.to_dict(), indent=2, default=str))
    else:
        print(report_text(report))
    return EXIT_OK if report.equal else EXIT_FINDINGS


def _lint(args: argparse.Namespace) -> int:
    from .config import Options
    from .linter.fix import clear_execution_counts
    from .linter.reporters import REPORTERS
    from .linter.runner import lint_file, lint_paths
    from .notebook import NotebookError

    options = Options(
        select=_merge(args.select),
        ignore=_merge(args.ignore),
        extend_select=_merge(args.extend_select),
        use_config=not args.isolated,
    )
    results = lint_paths(
        args.paths, options, jobs=args.jobs, cache=not args.no_cache and not args.fix
    )
    fixed = 0
    if args.fix:
        for i, r in enumerate(results):
            if any(d.fixable for d in r.diagnostics):
                try:
                    fixed += sum(1 for d in r.diagnostics if d.fixable)
                    clear_execution_counts(r.path)
                except (OSError, ValueError, NotebookError) as exc:
                    print(f"nb2svc: cannot fix {r.path}: {exc}", file=sys.stderr)
                    continue
                results[i] = lint_file(r.path, options)
    for r in results:
        if r.error:
            print(f"nb2svc: error: {r.path}: {r.error}", file=sys.stderr)
        elif r.skipped:
            print(f"nb2svc: skipped {r.path}: {r.skipped}", file=sys.stderr)
    out = open(args.output_file, "w", encoding="utf-8") if args.output_file else sys.stdout  # noqa: SIM115
    try:
        if args.format == "text":
            if fixed:
                out.write(f"Fixed {fixed} finding{'s' if fixed != 1 else ''}.\n")
            if not (args.quiet and not any(r.diagnostics for r in results)):
                REPORTERS["text"](results, out) if not args.quiet else _quiet_text(results, out)
        else:
            REPORTERS[args.format](results, out)
    finally:
        if out is not sys.stdout:
            out.close()
    if any(r.error for r in results):
        return EXIT_ERROR
    levels = {"info": 0, "warning": 1, "error": 2}
    floor = levels[args.fail_on]
    failing = any(levels[d.severity] >= floor for r in results for d in r.diagnostics)
    if failing and not args.exit_zero:
        return EXIT_FINDINGS
    return EXIT_OK


def _quiet_text(results, out) -> None:  # type: ignore[no-untyped-def]
    import io

    from .linter.reporters import text

    buf = io.StringIO()
    text(results, buf)
    lines = [
        ln
        for ln in buf.getvalue().splitlines()
        if ":" in ln and not ln.startswith(("Found ", "[*]"))
    ]
    out.write("".join(ln + "\n" for ln in lines))


def _pairs(items: list[str], flag: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"nb2svc: error: {flag} expects NAME=VALUE, got {item!r}")
        out[key] = value
    return out


def _local(args: argparse.Namespace) -> int:
    from .sagemaker import local

    try:
        if args.command == "train":
            print(
                f"nb2svc train runs {args.package_dir}/bin/train (it executes the package's code).",
                file=sys.stderr,
            )
            return local.train(
                args.package_dir, _pairs(args.data, "--data"), _pairs(args.hp, "--hp"), args.base
            )
        print(
            f"nb2svc serve runs {args.package_dir}/bin/serve on http://{args.host}:{args.port}.",
            file=sys.stderr,
        )
        return local.serve(args.package_dir, args.port, args.base, args.host, args.workers)
    except (local.LocalRunError, OSError, ValueError) as exc:
        print(f"nb2svc: error: {exc}", file=sys.stderr)
        return EXIT_ERROR


def _rules() -> int:
    from .linter.registry import RULES

    width = max(len(r.name) for r in RULES.values())
    for r in RULES.values():
        fix = " [*]" if r.fixable else ""
        print(f"{r.code}  {r.name:<{width}}  {r.kind:<12}  {r.severity:<7}  {r.summary}{fix}")
    return EXIT_OK


def _rule(code: str) -> int:
    from .linter.registry import RULES
    from .linter.ruledocs import rule_text

    if code.upper() not in RULES:
        print(f"nb2svc: error: unknown rule code {code!r} (see `nb2svc rules`)", file=sys.stderr)
        return EXIT_ERROR
    print(rule_text(code.upper()), end="")
    return EXIT_OK


def _build_parser(sub: Any) -> None:
    bd = sub.add_parser(
        "build",
        help="build the image of a converted package with docker or podman",
        description="Build OUT's Dockerfile with docker (when its engine runs) or podman "
        "(--isolation chroot). Prints the tag, build time and image size.",
    )
    bd.add_argument("package_dir", help="the folder `nb2svc convert` wrote")
    bd.add_argument("--tag", help="image tag (default: localhost/<package>:latest)")
    bd.add_argument("--engine", choices=["docker", "podman"], help="default: whichever works")
    bd.add_argument("--base", help="base image (the Dockerfile's BASE; default python:X.Y-slim)")
    bd.add_argument(
        "--local-base",
        action="store_true",
        help="no registry here: build the base from Debian packages (podman, debootstrap)",
    )
    bd.add_argument(
        "--host-pip", action="store_true", help="mount this machine's pip configuration"
    )


def _build(args: argparse.Namespace) -> int:
    from .image.build import BuildError, build_image

    try:
        result = build_image(
            args.package_dir,
            tag=args.tag,
            engine=args.engine,
            base=args.base,
            local_base=args.local_base,
            host_pip=args.host_pip,
        )
    except BuildError as exc:
        print(f"nb2svc build: {exc}", file=sys.stderr)
        return EXIT_ERROR
    size = f"{result.size_bytes / 1e6:.0f} MB" if result.size_bytes else "size unknown"
    print(f"{result.tag}  ({Path(result.engine).name}, {result.seconds:.0f} s, {size})")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    # Parsing a cell allocates many small objects that reference counting frees; the cyclic
    # collector only re-walks them (~8% of a corpus run). The CLI is short-lived: it turns the
    # collector off and the runner collects every few hundred notebooks; library callers keep
    # their own settings.
    gc.disable()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "lint":
            return _lint(args)
        if args.command == "convert":
            return _convert(args)
        if args.command == "verify":
            return _verify(args)
        if args.command in ("train", "serve"):
            return _local(args)
        if args.command == "rules":
            return _rules()
        if args.command == "rule":
            return _rule(args.code)
        if args.command == "build":
            return _build(args)
        if args.command == "check-converted":
            from .staleness import main as check_converted

            return check_converted(args.paths, fmt=args.format, quiet=args.quiet)
        parser.print_help()
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("nb2svc: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
