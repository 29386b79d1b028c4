"""``tunesmith serve``: the web page and its HTTP API on uvicorn (needs the ``web`` extra)."""
from __future__ import annotations

import sys

from tunesmith.errors import TunesmithError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def register(sub) -> None:
    p = sub.add_parser(
        "serve", help="the toolkit in a web page, with an HTTP API (OpenAPI at /openapi.json)",
        description="Start a local web app: drop or record a take, see and hear its notes and score, continue it "
                    "with the composer, convert it, and detect one voice or several (live in the browser). "
                    "Binds to 127.0.0.1 unless --host says otherwise; Ctrl-C stops it.")
    p.add_argument("--host", default=DEFAULT_HOST, help=f"address to bind (default {DEFAULT_HOST}: this machine only)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT}; 0 = any free)")
    p.add_argument("--workers", type=int, default=2,
                   help="jobs analysed at once (threads sharing the loaded models; default 2)")
    p.set_defaults(func=run)


def run(args) -> int:
    if not 0 <= args.port <= 65535:
        raise TunesmithError(f"--port must be 0-65535, got {args.port}")
    if args.workers < 1:
        raise TunesmithError(f"--workers must be at least 1, got {args.workers}")
    try:
        import uvicorn

        from tunesmith.web.app import create_app
    except ImportError as exc:
        raise TunesmithError(f"the web app needs its extra: pip install 'tunesmith[web]' ({exc.name} is missing)") \
            from None
    if not (args.host.startswith("127.") or args.host in ("localhost", "::1")):
        print(f"tunesmith: warning: listening on {args.host}: other machines can reach this server and use its "
              "models (there is no login)", file=sys.stderr)
    import logging

    logging.basicConfig(level=logging.INFO, format="tunesmith: %(message)s")
    app = create_app(workers=args.workers)
    config = uvicorn.Config(app, host=args.host, port=args.port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)

    # print the URL once the socket is bound (so --port 0 shows the real port)
    original_startup = server.startup

    async def startup(sockets=None):
        await original_startup(sockets=sockets)
        if server.started:
            port = server.servers[0].sockets[0].getsockname()[1] if server.servers else args.port
            host = f"[{args.host}]" if ":" in args.host else args.host
            print(f"tunesmith: serving on http://{host}:{port}/  (API: /docs, /openapi.json; Ctrl-C stops)",
                  file=sys.stderr, flush=True)

    server.startup = startup
    try:
        server.run()    # uvicorn handles Ctrl-C: finishes open requests and runs the app's shutdown ...
    except KeyboardInterrupt:
        pass            # ... then re-raises the signal it caught; by then the server has stopped cleanly
    if not server.started:
        raise TunesmithError(f"could not listen on {args.host}:{args.port} (port in use?)")
    print("tunesmith: stopped", file=sys.stderr)
    return 0
