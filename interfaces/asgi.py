"""The ASGI app uvicorn imports (one container per worker process)."""

from interfaces.app import create_app

app = create_app()
