"""/api/v1/retrieval: status, the RAG configuration and the embedding model (the spec's 5 routes).

Changing the embedding model answers at once with the requested model; the index switches when
every chunk has been embedded with it (see application.retrieval), reported under `switch`.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter

from application.errors import BadRequest
from application.messages import Detail
from interfaces.deps import AdminUser, VerifiedUser, Write
from interfaces.schemas.retrieval import ConfigForm, EmbeddingModelUpdateForm
from interfaces.services import Retrieval

router = APIRouter(prefix="/api/v1/retrieval", tags=["retrieval"])
CONFIG_MAX_BYTES = 1024 * 1024


@router.get("/")
def get_status(principal: VerifiedUser, retrieval: Retrieval) -> dict[str, Any]:
    """Retrieval's chunking, template and embedding settings in effect."""
    return retrieval.status()


@router.get("/config")
def get_rag_config(principal: AdminUser, retrieval: Retrieval) -> dict[str, Any]:
    """The retrieval settings (admins)."""
    return {"status": True, **retrieval.rag_config()}


@router.post("/config/update")
def update_rag_config(form: ConfigForm, principal: AdminUser,
                      retrieval: Retrieval, written: Write) -> dict[str, Any]:
    """Change the retrieval settings (admins)."""
    try:
        changes = form.changes()
    except ValueError as error:
        raise BadRequest(Detail.DEFAULT(str(error))) from None
    if len(json.dumps(changes, default=str)) > CONFIG_MAX_BYTES:
        raise BadRequest(Detail.DEFAULT("configuration too large"))
    outcome = retrieval.update_rag_config(changes)
    written(outcome.position)
    return {"status": True, **outcome.value}


@router.get("/embedding")
def get_embedding_config(principal: AdminUser, retrieval: Retrieval) -> dict[str, Any]:
    """The embedding settings (admins)."""
    return retrieval.embedding_config()


@router.post("/embedding/update")
def update_embedding_config(form: EmbeddingModelUpdateForm, principal: AdminUser,
                            retrieval: Retrieval, written: Write) -> dict[str, Any]:
    """Change the embedding settings (admins)."""
    spec = form.spec(retrieval.requested_spec())
    outcome = retrieval.update_embedding_config(spec)
    written(outcome.position)
    return outcome.value
