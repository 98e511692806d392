"""The long-running processes: the API server (`serve`), the training worker (`worker`) and the DICOM
listener (`dicom-listener`)."""

from __future__ import annotations

import argparse
from typing import Any

from imaging_ai.cli.database import database
from imaging_ai.settings import Settings


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = commands.add_parser("serve", help="Run the API (and the SPA) with uvicorn.")
    serve.add_argument("--host", help="Bind address (default: IMAGING_AI_HOST).")
    serve.add_argument("--port", type=int, help="Port (default: IMAGING_AI_PORT).")
    serve.add_argument("--migrate", action="store_true", help="Apply migrations before serving.")
    serve.set_defaults(handler=_serve)

    worker = commands.add_parser(
        "worker", help="Run queued training jobs (several workers may share a database)."
    )
    worker.add_argument("--once", action="store_true", help="Run at most one job, then exit.")
    worker.add_argument("--max-jobs", type=int, help="Exit after this many jobs.")
    worker.set_defaults(handler=_worker)

    listener = commands.add_parser(
        "dicom-listener",
        help="Receive DICOM instances (C-STORE, C-ECHO) from the AE titles of IMAGING_AI_DICOM_CALLERS.",
    )
    listener.add_argument("--host", help="Bind address (default: IMAGING_AI_DICOM_HOST).")
    listener.add_argument("--port", type=int, help="Port (default: IMAGING_AI_DICOM_PORT).")
    listener.set_defaults(handler=_dicom_listener)


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """How `serve` configures uvicorn, apart from where it listens (shared with the tests)."""
    proxies = settings.forwarded_allow_ips
    return {
        "log_config": None,
        "access_log": False,
        # Keep-alive sockets from the SPA are cheap; a short timeout frees them on a 2-core box.
        "timeout_keep_alive": 5,
        # uvicorn trusts X-Forwarded-For from 127.0.0.1 by default: anything on the host (or a port
        # forward) could then choose the address the audit log records and the sign-in throttle counts.
        # Only configured proxies are trusted; with none, the headers are not read at all.
        "proxy_headers": bool(proxies),
        "forwarded_allow_ips": ",".join(proxies) if proxies else None,
    }


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from imaging_ai.persistence import migrations

    if args.migrate:
        migrations.upgrade(settings.resolved_database_url)
    uvicorn.run(
        "imaging_ai.api.app:create_app",
        factory=True,
        host=args.host or settings.host,
        port=args.port or settings.port,
        **uvicorn_options(settings),
    )
    return 0


def _worker(args: argparse.Namespace, settings: Settings) -> int:
    from imaging_ai.persistence.database import create_session_factory
    from imaging_ai.services.training.worker import Worker

    with database(settings) as engine:
        worker = Worker(create_session_factory(engine), settings)
        try:
            if args.once:
                worker.run_once()
            else:
                worker.run_forever(max_jobs=args.max_jobs)
        except KeyboardInterrupt:
            pass
    return 0


def _dicom_listener(args: argparse.Namespace, settings: Settings) -> int:
    import signal

    from imaging_ai.api.app import register_model_versions
    from imaging_ai.api.state import AppState
    from imaging_ai.dicom_net.listener import listener_for, quiet_pynetdicom

    if args.host:
        settings = settings.model_copy(update={"dicom_host": args.host})
    quiet_pynetdicom()
    state = AppState.build(settings)
    register_model_versions(state)
    listener = listener_for(state, port=args.port)

    def _terminate(_signum: int, _frame: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, _terminate)
    try:
        listener.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        state.engine.dispose()
    return 0
