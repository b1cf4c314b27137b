"""Start, stop or inspect a local Dask cluster (scheduler + N workers on 127.0.0.1)."""

from __future__ import annotations

import argparse
import json
import sys

from .. import cluster


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lodestar cluster",
        description="A local Dask cluster of real processes on 127.0.0.1: one scheduler and N workers. "
        "Point Lodestar at it with LODESTAR_SCHEDULER=<address> or distributed.Client(<address>).",
    )
    sub = parser.add_subparsers(dest="action", required=True, metavar="{up,down,status}")
    state_help = "state directory holding cluster.json and the logs (default: $LODESTAR_CLUSTER_DIR or ~/.lodestar/cluster)"

    up = sub.add_parser("up", help="start the scheduler and workers, wait until they are ready")
    up.add_argument("--workers", type=int, default=2, help="number of worker processes (default 2)")
    up.add_argument("--threads", type=int, default=1, help="threads per worker (default 1)")
    up.add_argument("--memory-limit", default="auto", help='memory per worker, e.g. "4GB"; "auto" = RAM / workers; "0" = none')
    up.add_argument("--port", type=int, default=0, help="scheduler port (default: a free one)")
    up.add_argument("--dashboard-port", type=int, default=None, help="serve the Dask dashboard on 127.0.0.1:PORT (default: off)")
    up.add_argument("--no-nanny", action="store_true", help="run workers without a nanny (no automatic restarts)")
    up.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the workers (default 60)")
    up.add_argument("--dir", default=None, help=state_help)

    down = sub.add_parser("down", help="stop the cluster (harmless when none is running)")
    down.add_argument("--dir", default=None, help=state_help)
    down.add_argument("--timeout", type=float, default=20.0, help="seconds before SIGKILL (default 20)")

    st = sub.add_parser("status", help="show the address, processes and registered workers")
    st.add_argument("--dir", default=None, help=state_help)
    st.add_argument("--json", action="store_true", help="print the status as JSON")
    return parser


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.action == "up":
            if args.workers < 1 or args.threads < 1:
                print("lodestar cluster up: --workers and --threads must be at least 1", file=sys.stderr)
                return 2
            info = cluster.start(
                n_workers=args.workers,
                threads_per_worker=args.threads,
                memory_limit=args.memory_limit,
                state_dir=args.dir,
                port=args.port,
                dashboard_port=args.dashboard_port,
                nanny=not args.no_nanny,
                timeout=args.timeout,
            )
            print(f"scheduler {info.address} with {len(info.workers)} workers x {info.threads_per_worker} threads")
            if info.dashboard_address:
                print(f"dashboard {info.dashboard_address}")
            print(f"export LODESTAR_SCHEDULER={info.address}")
            return 0
        if args.action == "down":
            stopped = cluster.stop(args.dir, timeout=args.timeout)
            print("cluster stopped" if stopped else "no cluster running")
            return 0
        state = cluster.status(args.dir)
        if args.json:
            print(json.dumps(state, indent=2))
        elif not state["running"]:
            print(f"no cluster running (state directory {state['state_dir']})")
        else:
            registered = state["workers_registered"]
            print(f"scheduler {state['address']}: {'unreachable' if registered is None else f'{registered} workers registered'}")
            for p in state["processes"]:
                print(f"  {p['name']:<12} pid {p['pid']:<8} {'running' if p['alive'] else 'exited'}   log {p['log']}")
        return 0 if state["running"] else 1
    except cluster.ClusterError as e:
        print(f"lodestar cluster {args.action}: {e}", file=sys.stderr)
        return 1
