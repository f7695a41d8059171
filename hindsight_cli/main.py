"""``hindsight``: the command line of the native API (see docs/cli.md).

Exit codes: 0 success; ``watch``: 1 failed, 2 cancelled, 130 interrupted; 3 the server
refused the request (4xx/5xx); 4 the server cannot be reached; 5 bad local input (files, the
server URL); argparse's own 2 for usage errors.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import NoReturn

from . import commands, interrupts, webhook_commands
from .client import DEFAULT_URL, APIError, HindsightClient, InvalidServerURL, ServerUnreachable
from .inputs import InputError
from .render import Output

EXIT_API_ERROR = 3
EXIT_UNREACHABLE = 4
EXIT_INPUT = 5
EXIT_INTERRUPTED = 130


def positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an integer") from None
    if number < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative")
    return number


def common_options(defaults: bool) -> argparse.ArgumentParser:
    """``--url``, ``--api-key``, ``--json`` are accepted before or after the command; only the
    top level sets defaults, so a subcommand never overwrites a value given earlier."""
    keep = {} if defaults else {"default": argparse.SUPPRESS}
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--url", help=f"server URL (env HINDSIGHT_API_URL, default {DEFAULT_URL})",
                        **({"default": None} if defaults else keep))
    parser.add_argument("--api-key", help="API key sent as a Bearer token (env HINDSIGHT_API_KEY)",
                        **({"default": None} if defaults else keep))
    parser.add_argument("--json", action="store_true",
                        help="machine-readable JSON on stdout, nothing else",
                        **({"default": False} if defaults else keep))
    return parser


def build_parser() -> argparse.ArgumentParser:
    common = common_options(defaults=False)
    parser = argparse.ArgumentParser(
        prog="hindsight", parents=[common_options(defaults=True)],
        description="Long-term memory banks and their background operations.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(group, name: str, handler: Callable, help_text: str) -> argparse.ArgumentParser:
        cmd = group.add_parser(name, parents=[common], help=help_text, description=help_text)
        cmd.set_defaults(handler=handler)
        return cmd

    cmd = command(sub, "retain", commands.retain, "store memories (text, stdin or files)")
    cmd.add_argument("bank")
    cmd.add_argument("text", nargs="?", help="the memory text; '-' reads stdin")
    cmd.add_argument("--files", nargs="+", default=[], metavar="PATH_OR_GLOB",
                     help="upload documents (.pdf .docx .html .md .txt .json .csv); each is a "
                          "document, its path the document id, its text split into memories")
    cmd.add_argument("--async", dest="async_", action="store_true",
                     help="run in the background: print operation ids at once")
    cmd.add_argument("--context")
    cmd.add_argument("--document-id")
    cmd.add_argument("--tag", action="append", default=[], help="repeat for several tags")
    cmd.add_argument("--batch-size", type=positive_int, default=0,
                     help="items per request (default: HINDSIGHT_MAX_BATCH_ITEMS or 10000); "
                          "files per upload (default: HINDSIGHT_MAX_FILES_PER_REQUEST or 100)")

    ops = sub.add_parser("operations", help="list, get, watch, cancel, retry operations")
    ops_sub = ops.add_subparsers(dest="action", required=True, metavar="ACTION")
    cmd = command(ops_sub, "list", commands.operations_list, "list operations, newest first")
    cmd.add_argument("bank")
    cmd.add_argument("--status", action="append", help="pending|running|completed|failed|"
                     "cancelled; repeat or comma-separate")
    cmd.add_argument("--type", action="append", help="batch_retain|regenerate_observations|"
                     "graph_update")
    cmd.add_argument("--limit", type=positive_int, default=20)
    cmd.add_argument("--offset", type=positive_int, default=0)
    for name, handler, text in (
        ("get", commands.operations_get, "show one operation"),
        ("retry", commands.operations_retry, "re-run a failed or cancelled operation"),
    ):
        cmd = command(ops_sub, name, handler, text)
        cmd.add_argument("bank")
        cmd.add_argument("operation")
    cmd = command(ops_sub, "watch", commands.operations_watch,
                  "live progress until the end (exit 0 completed, 1 failed, 2 cancelled)")
    cmd.add_argument("bank")
    target = cmd.add_mutually_exclusive_group(required=True)
    target.add_argument("operation", nargs="?")
    target.add_argument("--all", action="store_true", help="every pending/running operation")
    cmd = command(ops_sub, "cancel", commands.operations_cancel, "cancel an operation")
    cmd.add_argument("bank")
    target = cmd.add_mutually_exclusive_group(required=True)
    target.add_argument("operation", nargs="?")
    target.add_argument("--all-pending", action="store_true",
                        help="cancel every pending operation of the bank")

    banks = sub.add_parser("banks", help="list, create, update, delete banks")
    banks_sub = banks.add_subparsers(dest="action", required=True, metavar="ACTION")
    command(banks_sub, "list", commands.banks_list, "list banks")
    cmd = command(banks_sub, "create", commands.banks_create, "create a bank")
    cmd.add_argument("bank")
    cmd.add_argument("--name")
    cmd = command(banks_sub, "update", commands.banks_update, "rename a bank")
    cmd.add_argument("bank")
    cmd.add_argument("--name", required=True)
    cmd = command(banks_sub, "delete", commands.banks_delete,
                  "delete a bank with its memories and operations")
    cmd.add_argument("bank")

    cmd = command(sub, "recall", commands.recall, "memories ranked by relevance to a query")
    cmd.add_argument("bank")
    cmd.add_argument("query")
    cmd.add_argument("--limit", type=positive_int, default=10)

    webhook_commands.add_parsers(sub, command, positive_int)  # webhooks (issue 14)
    return parser


def describe(exc: APIError) -> str:
    """One line per HTTP error, saying what to do about it where we know."""
    code, detail = exc.status_code, exc.detail
    if code == 401:
        return f"401 unauthorized: {detail} (pass --api-key or set HINDSIGHT_API_KEY)"
    if code == 404:
        return f"404 not found: {detail}"
    if code == 409:
        status = exc.current_status
        # The server's message usually names the status already: say it once.
        named = not status or f"'{status}'" in detail
        return f"409 conflict: {detail}" + ("" if named else f" (current status: {status})")
    if code == 413:
        limit, maximum = exc.body.get("limit"), exc.body.get("max")
        where = f" (limit {limit}" + (f" = {maximum}" if maximum is not None else "") + ")"
        return f"413 too large: {detail}" + (where if limit else "")
    if code in (400, 422):
        return f"{code} invalid request: {detail}"
    return f"{code} from the server: {detail}"


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except KeyboardInterrupt:
        return interrupted(Output())
    out = Output(json_mode=args.json)
    url = args.url or os.environ.get("HINDSIGHT_API_URL") or DEFAULT_URL
    client: HindsightClient | None = None
    try:
        client = HindsightClient(url, args.api_key,
                                 transport=interrupts.InterruptibleTransport())
        code = args.handler(client, args, out)
    except ServerUnreachable as exc:
        out.error(f"cannot reach the Hindsight server at {exc.url} ({exc.reason}); "
                  "check --url or HINDSIGHT_API_URL")
        code = EXIT_UNREACHABLE
    except APIError as exc:
        out.error(describe(exc))
        code = EXIT_API_ERROR
    except (InputError, InvalidServerURL) as exc:
        out.error(str(exc))
        code = EXIT_INPUT
    except KeyboardInterrupt:
        return interrupted(out)
    except BrokenPipeError:
        # `hindsight ... | head`: the reader left; not an error worth a traceback.
        sys.stderr.close()
        return 0
    # Never after an interrupt: it may have left the connection pool's lock held, and closing
    # the pool waits for that lock forever (issue 18). The process ends anyway.
    if client is not None and code != EXIT_INTERRUPTED:
        client.close()
    return code


def interrupted(out: Output) -> int:
    out.note("interrupted")
    interrupts.reported()
    return EXIT_INTERRUPTED


def run(argv: list[str] | None = None) -> NoReturn:
    """The ``hindsight`` executable: ``main`` plus the guarantee that Ctrl-C ends the process
    (``interrupts``). Kept out of ``main`` so that code calling ``main`` in-process keeps its
    own signal handling."""
    interrupts.install()
    try:
        code = main(argv)
    except KeyboardInterrupt:  # landed in an error handler or in the final close
        code = interrupted(Output())
    sys.exit(code)


if __name__ == "__main__":
    run()
