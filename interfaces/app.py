"""The FastAPI application: routers, middleware, error handlers, metrics and lifespan."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

from infrastructure.metrics import REGISTRY, LiveCollector
from infrastructure.settings import Settings
from interfaces.composition import heap
from interfaces.composition.bootstrap import bootstrap
from interfaces.composition.container import Container
from interfaces.errors import install_error_handlers
from interfaces.frontend import serve_frontend
from interfaces.logs import configure_logging
from interfaces.middleware import RequestContextMiddleware
from interfaces.routers import (
    analytics,
    audit,
    auths,
    chats,
    completions,
    configs,
    connections,
    folders,
    meta,
    models,
    system,
    tasks,
    tools,
    users,
    utils,
)
from interfaces.routers import audio as audio_router
from interfaces.routers import channels as channels_router
from interfaces.routers import evaluations as evaluations_router
from interfaces.routers import events as events_router
from interfaces.routers import files as files_router
from interfaces.routers import functions as functions_router
from interfaces.routers import groups as groups_router
from interfaces.routers import images as images_router
from interfaces.routers import knowledge as knowledge_router
from interfaces.routers import notes as notes_router
from interfaces.routers import pipelines as pipelines_router
from interfaces.routers import prompts as prompts_router
from interfaces.routers import retrieval as retrieval_router
from interfaces.routers import search as search_router
from interfaces.routers import skills as skills_router
from interfaces.routers import terminals as terminals_router

VERSION = "0.12.4"


def create_app(settings: Settings | None = None, container: Container | None = None) -> FastAPI:
    settings = settings or (container.settings if container else Settings())
    configure_logging(settings.LOG_LEVEL, settings.LOG_FORMAT)
    owned = container is None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if app.state.container is None:
            app.state.container = bootstrap(settings)
            heap.settle()  # a server process, built once (interfaces/composition/heap.py)
        _register_collector(app.state.container)
        _resume_pending_files(app.state.container)
        # Replies whose streaming process died are marked interrupted (application/replies.py).
        sweeper = asyncio.create_task(app.state.container.replies.sweep_forever(
            app.state.container.settings.REPLY_SWEEP_SECONDS))
        yield
        sweeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweeper
        if owned:
            app.state.container.close()

    app = FastAPI(title="Chronicle", version=VERSION, lifespan=lifespan,
                  description="Event-sourced backend serving the Open WebUI API.")
    app.state.container = container
    origins = [o.strip() for o in settings.CORS_ALLOW_ORIGIN.split(";") if o.strip()]
    app.add_middleware(CORSMiddleware, allow_origins=origins, allow_credentials=origins != ["*"],
                       allow_methods=["*"], allow_headers=["*"],
                       expose_headers=["X-Chronicle-Position", "X-Chronicle-Consistency",
                                       "X-Request-ID"])
    app.add_middleware(RequestContextMiddleware, hsts=settings.WEBUI_AUTH_COOKIE_SECURE)
    install_error_handlers(app)
    # Routes are matched in order: the completions router first, for the first token's sake.
    app.include_router(completions.router)
    app.include_router(meta.router)
    app.include_router(auths.router)
    app.include_router(users.router)
    app.include_router(system.router)
    app.include_router(chats.router)
    app.include_router(folders.router)
    app.include_router(models.router)
    app.include_router(tools.router)
    app.include_router(utils.router)
    app.include_router(files_router.router)
    app.include_router(knowledge_router.router)
    app.include_router(notes_router.router)
    app.include_router(retrieval_router.router)
    app.include_router(audit.router)
    app.include_router(connections.openai)
    app.include_router(connections.ollama)
    app.include_router(configs.router)
    app.include_router(tasks.router)
    app.include_router(analytics.router)
    app.include_router(prompts_router.router)
    app.include_router(events_router.router)
    app.include_router(functions_router.router)
    app.include_router(skills_router.router)
    app.include_router(channels_router.router)
    app.include_router(terminals_router.router)
    app.include_router(audio_router.router)
    app.include_router(search_router.router)
    app.include_router(pipelines_router.router)
    app.include_router(images_router.router)
    app.include_router(evaluations_router.router)
    app.include_router(groups_router.router)

    @app.get("/metrics", include_in_schema=False)
    def prometheus_metrics() -> Response:
        """Prometheus metrics of this process."""
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    # The web app answers only what no route above does (interfaces/frontend.py).
    serve_frontend(app, settings.frontend_dir, settings.WEBUI_NAME)
    return app


_collector: LiveCollector | None = None


def _register_collector(container: Container) -> None:
    """One live collector per process, reading whichever container is current."""
    global _collector
    if _collector is None:
        _collector = LiveCollector(lambda: [], lambda: {})
        REGISTRY.register(_collector)
    _collector.projections = container.host.status
    _collector.queue_depth = container.jobs.depth if container.jobs else dict


def _resume_pending_files(container: Container) -> None:
    """Files a crash left pending get their processing job again (jobs are idempotent)."""
    import threading

    if container.files is not None:
        threading.Thread(target=container.files.resume_pending, name="resume-files",
                         daemon=True).start()
