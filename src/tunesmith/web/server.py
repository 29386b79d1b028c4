"""Run the app on a loopback port in a background thread (for tests, benchmarks and notebooks)."""
from __future__ import annotations

import threading
import time

from tunesmith.errors import TunesmithError

START_TIMEOUT_S = 30.0
LOOPBACK = "127.0.0.1"


class BackgroundServer:
    """``with BackgroundServer(app) as url:`` serves ``app`` on ``127.0.0.1`` at a free port until the block ends.

    Only loopback addresses are accepted: this is for traffic that stays on the machine.
    """

    def __init__(self, app, *, host: str = LOOPBACK, port: int = 0):
        if not host.startswith("127.") and host not in ("localhost", "::1"):
            raise TunesmithError(f"BackgroundServer binds to loopback only, not {host!r}")
        import uvicorn

        self.server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on"))
        self.server.install_signal_handlers = lambda: None     # signals belong to the main thread's owner
        self.thread = threading.Thread(target=self.server.run, name="tunesmith-server", daemon=True)
        self.host = host
        self.url = ""

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise TunesmithError("the web server did not start")
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://{self.host}:{port}"
        return self.url

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=START_TIMEOUT_S)
