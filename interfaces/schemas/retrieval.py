"""Request models of /api/v1/retrieval/* (Open WebUI 0.12.4's ConfigForm and
EmbeddingModelUpdateForm). Settings Chronicle has no engine for are kept as sent, so the admin
UI reads back what it saved."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from application.retrieval import EmbeddingSpec
from interfaces import bounds

CONFIG_MAX_KEYS = 200


class ConfigForm(BaseModel):
    model_config = ConfigDict(extra="allow")

    RAG_TEMPLATE: str | None = Field(default=None, max_length=100_000)
    TOP_K: bounds.Int64 | None = None  # range checked by the application (400)
    BYPASS_EMBEDDING_AND_RETRIEVAL: bool | None = None
    RAG_FULL_CONTEXT: bool | None = None
    ENABLE_RAG_HYBRID_SEARCH: bool | None = None
    TOP_K_RERANKER: bounds.Count | None = None
    RELEVANCE_THRESHOLD: float | None = None
    HYBRID_BM25_WEIGHT: float | None = None
    CONTENT_EXTRACTION_ENGINE: str | None = Field(default=None, max_length=255)
    PDF_EXTRACT_IMAGES: bool | None = None
    RAG_RERANKING_MODEL: str | None = Field(default=None, max_length=1_000)
    RAG_RERANKING_ENGINE: str | None = Field(default=None, max_length=255)
    TEXT_SPLITTER: str | None = Field(default=None, max_length=255)
    CHUNK_SIZE: bounds.Int64 | None = None  # range checked by the application (400)
    CHUNK_OVERLAP: bounds.Int64 | None = None  # range checked by the application (400)
    FILE_MAX_SIZE: bounds.Int64 | str | None = None  # checked by the application (400)
    FILE_MAX_COUNT: bounds.Count | str | None = None
    ALLOWED_FILE_EXTENSIONS: list[str] | None = Field(default=None, max_length=1_000)
    web: dict[str, Any] | None = None

    def changes(self) -> dict[str, Any]:
        """What the admin sent (null means "leave as is", as the reference)."""
        sent = self.model_dump(exclude_unset=True)
        if len(sent) > CONFIG_MAX_KEYS:
            raise ValueError("too many settings")
        return {k: v for k, v in sent.items() if v is not None}


class EndpointForm(BaseModel):
    url: str | None = Field(default=None, max_length=2_000)
    key: str | None = Field(default=None, max_length=2_000)


class AzureForm(EndpointForm):
    version: str | None = Field(default=None, max_length=100)


class EmbeddingModelUpdateForm(BaseModel):
    openai_config: EndpointForm | None = None
    ollama_config: EndpointForm | None = None
    azure_openai_config: AzureForm | None = None
    RAG_EMBEDDING_ENGINE: str = Field(max_length=50)
    RAG_EMBEDDING_MODEL: str = Field(max_length=1_000)
    RAG_EMBEDDING_BATCH_SIZE: int | None = Field(default=None, ge=1, le=2_048)
    ENABLE_ASYNC_EMBEDDING: bool | None = True
    RAG_EMBEDDING_CONCURRENT_REQUESTS: int | None = Field(default=0, ge=0, le=1_000)

    def spec(self, current: EmbeddingSpec) -> EmbeddingSpec:
        """The requested spec; endpoint settings not sent keep their current values."""
        openai, ollama = self.openai_config, self.ollama_config
        return EmbeddingSpec(
            engine=self.RAG_EMBEDDING_ENGINE.strip().lower(),
            model=self.RAG_EMBEDDING_MODEL.strip(),
            batch_size=self.RAG_EMBEDDING_BATCH_SIZE or current.batch_size,
            openai_url=(openai.url if openai and openai.url is not None else current.openai_url),
            openai_key=(openai.key if openai and openai.key is not None else current.openai_key),
            ollama_url=(ollama.url if ollama and ollama.url is not None else current.ollama_url),
            ollama_key=(ollama.key if ollama and ollama.key is not None else current.ollama_key),
            async_embedding=bool(self.ENABLE_ASYNC_EMBEDDING
                                 if self.ENABLE_ASYNC_EMBEDDING is not None else True),
            concurrent_requests=self.RAG_EMBEDDING_CONCURRENT_REQUESTS or 0,
        )
