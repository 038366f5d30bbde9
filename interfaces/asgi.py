"""The ASGI app uvicorn imports (one container per worker process): REST plus Socket.IO."""

from infrastructure.settings import Settings
from interfaces.app import create_app
from interfaces.realtime import with_realtime

settings = Settings()
app = with_realtime(create_app(settings), settings)
