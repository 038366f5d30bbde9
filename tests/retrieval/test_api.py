"""/api/v1/retrieval: status, RAG configuration and embedding configuration."""

from __future__ import annotations

from application.messages import Detail
from tests.files.stack import CALLERS, Stack

API = "/api/v1/retrieval"


def test_who_may_call_each_route(world: Stack) -> None:
    admin_only = {"anonymous": 401, "pending": 401, "user": 401, "other": 401, "admin": 200}
    verified = {**admin_only, "user": 200, "other": 200}
    for who in CALLERS:
        h = world.headers(who)
        assert world.client.get(f"{API}/", headers=h).status_code == verified[who]
        assert world.client.get(f"{API}/config", headers=h).status_code == admin_only[who]
        assert world.client.get(f"{API}/embedding", headers=h).status_code == admin_only[who]
        r = world.client.post(f"{API}/config/update", json={"TOP_K": 4}, headers=h)
        assert r.status_code == admin_only[who]
        r = world.client.post(f"{API}/embedding/update", headers=h, json={
            "RAG_EMBEDDING_ENGINE": "", "RAG_EMBEDDING_MODEL": "all-MiniLM-L6-v2"})
        assert r.status_code == admin_only[who], r.text


def test_status_and_config(world: Stack) -> None:
    admin, user = world.people.admin, world.people.user
    status = world.client.get(f"{API}/", headers=user.headers).json()
    assert status["status"] is True and status["RAG_EMBEDDING_ENGINE"] == ""
    assert status["RAG_EMBEDDING_MODEL"] in ("sentence-transformers/all-MiniLM-L6-v2",
                                             "all-MiniLM-L6-v2")
    assert set(status) == {"status", "CHUNK_SIZE", "CHUNK_OVERLAP", "RAG_TEMPLATE",
                           "RAG_EMBEDDING_ENGINE", "RAG_EMBEDDING_MODEL", "RAG_RERANKING_MODEL",
                           "RAG_EMBEDDING_BATCH_SIZE", "ENABLE_ASYNC_EMBEDDING"}
    config = world.client.get(f"{API}/config", headers=admin.headers).json()
    assert config["status"] is True and config["CHUNK_SIZE"] == 1000
    assert "{{CONTEXT}}" in config["RAG_TEMPLATE"]
    r = world.client.post(f"{API}/config/update", headers=admin.headers, json={
        "CHUNK_SIZE": 60, "CHUNK_OVERLAP": 10, "TOP_K": 5, "TIKA_SERVER_URL": "http://tika",
        "RAG_TEMPLATE": None})
    assert r.status_code == 200
    body = r.json()
    assert (body["CHUNK_SIZE"], body["CHUNK_OVERLAP"], body["TOP_K"]) == (60, 10, 5)
    assert body["TIKA_SERVER_URL"] == "http://tika" and "{{QUERY}}" in body["RAG_TEMPLATE"]
    try:
        user_status = world.client.get(f"{API}/", headers=world.caught_up(user)).json()
        assert user_status["CHUNK_SIZE"] == 60
        text = " ".join(f"Sentence number {i} talks about a topic." for i in range(12))
        file_id = world.processed(user, "chunks.txt", text)
        chunks = world.container.files.aggregate(file_id).chunks
        assert len(chunks) > 5 and all(end - start <= 60 for _, start, end, _ in chunks)
        assert world.container.files.aggregate(file_id).chunking == [60, 10]
    finally:
        r = world.client.post(f"{API}/config/update", headers=admin.headers,
                              json={"CHUNK_SIZE": 1000, "CHUNK_OVERLAP": 100, "TOP_K": 3})
        assert r.status_code == 200


def test_config_validation(world: Stack) -> None:
    h = world.people.admin.headers
    for bad in ({"CHUNK_SIZE": 0}, {"CHUNK_SIZE": 100, "CHUNK_OVERLAP": 100},
                {"CHUNK_OVERLAP": -1}, {"TOP_K": 0}, {"FILE_MAX_SIZE": -5},
                {"FILE_MAX_SIZE": "lots"}, {"CHUNK_SIZE": 10_000_000}):
        r = world.client.post(f"{API}/config/update", json=bad, headers=h)
        assert r.status_code == 400, (bad, r.text)
    for bad in ({"CHUNK_SIZE": "big"}, {"TOP_K": [1]}, {"ALLOWED_FILE_EXTENSIONS": "pdf"}):
        assert world.client.post(f"{API}/config/update", json=bad, headers=h).status_code == 422
    assert world.client.post(f"{API}/config/update", content=b"[", headers={
        **h, "content-type": "application/json"}).status_code == 422
    assert world.client.get(f"{API}/config", headers=h).json()["CHUNK_SIZE"] == 1000


def test_allowed_extensions(world: Stack) -> None:
    admin, user = world.people.admin, world.people.user
    r = world.client.post(f"{API}/config/update", json={"ALLOWED_FILE_EXTENSIONS": ["md"]},
                          headers=admin.headers)
    assert r.status_code == 200
    try:
        r = world.client.post("/api/v1/files/", files={"file": ("a.txt", b"a", "text/plain")},
                              headers=user.headers)
        assert r.status_code == 415 and r.json()["detail"] == Detail.FILE_NOT_SUPPORTED
        world.upload(user, "a.md", "# fine", "text/markdown")
    finally:
        world.client.post(f"{API}/config/update", json={"ALLOWED_FILE_EXTENSIONS": []},
                          headers=admin.headers)


def test_embedding_config(world: Stack) -> None:
    h = world.people.admin.headers
    got = world.client.get(f"{API}/embedding", headers=h).json()
    assert got["RAG_EMBEDDING_ENGINE"] == "" and got["switch"]["state"] == "ready"
    assert set(got["openai_config"]) == {"url", "key"}
    for bad in ({"RAG_EMBEDDING_ENGINE": "azure_openai", "RAG_EMBEDDING_MODEL": "x"},
                {"RAG_EMBEDDING_ENGINE": "", "RAG_EMBEDDING_MODEL": "bge-large"},
                {"RAG_EMBEDDING_ENGINE": "openai", "RAG_EMBEDDING_MODEL": " "}):
        r = world.client.post(f"{API}/embedding/update", json=bad, headers=h)
        assert r.status_code == 400, bad
    for bad in ({"RAG_EMBEDDING_ENGINE": ""}, {"RAG_EMBEDDING_ENGINE": "", "RAG_EMBEDDING_MODEL":
                                               "m", "RAG_EMBEDDING_BATCH_SIZE": 0}):
        assert world.client.post(f"{API}/embedding/update", json=bad, headers=h).status_code == 422
    # Same model, another batch size: applies at once, nothing to re-embed.
    r = world.client.post(f"{API}/embedding/update", headers=h, json={
        "RAG_EMBEDDING_ENGINE": "", "RAG_EMBEDDING_MODEL": "sentence-transformers/all-MiniLM-L6-v2",
        "RAG_EMBEDDING_BATCH_SIZE": 8})
    assert r.status_code == 200
    body = r.json()
    assert body["RAG_EMBEDDING_BATCH_SIZE"] == 8 and body["switch"]["state"] == "ready"
    assert world.client.get(f"{API}/", headers=world.caught_up(world.people.user)).json()[
        "RAG_EMBEDDING_BATCH_SIZE"] == 8
    world.client.post(f"{API}/embedding/update", headers=h, json={
        "RAG_EMBEDDING_ENGINE": "", "RAG_EMBEDDING_MODEL": "sentence-transformers/all-MiniLM-L6-v2",
        "RAG_EMBEDDING_BATCH_SIZE": 16})


def test_every_spec_route_is_served(world: Stack) -> None:
    from pathlib import Path

    spec = Path(__file__).resolve().parents[3] / "shared" / "spec" / "endpoints.tsv"
    prefixes = ("/api/v1/files", "/api/v1/knowledge", "/api/v1/retrieval")
    wanted = {tuple(line.split("\t")[:2]) for line in spec.read_text().splitlines()
              if line.split("\t")[-1].startswith(prefixes)}
    assert len(wanted) == 22
    paths = world.client.app.openapi()["paths"]
    served = {(method.upper(), path) for path, ops in paths.items() for method in ops
              if path.startswith(prefixes)}
    assert wanted <= served
