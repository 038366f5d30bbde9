"""/api/v1/files end to end: upload → extraction → chunking → embedding (the real local model) →
FAISS, on SQLite (in-process jobs) and PostgreSQL (Dramatiq on Redis, a real `chronicle worker`).
"""

from __future__ import annotations

import io
import json
import threading
import zipfile
from typing import Any

import pytest

from application.messages import Detail
from tests.files.stack import Stack

API = "/api/v1/files"
FRUIT = ("Bananas are a yellow fruit rich in potassium.\n\n"
         "The capital of France is Paris, on the Seine.\n\n"
         "Rust's borrow checker enforces ownership of memory.")


def pdf_bytes(text: str) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.multi_cell(0, 10, text)
    return bytes(pdf.output())


def docx_bytes(text: str) -> bytes:
    import docx

    document = docx.Document()
    document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


# -- upload, reads and content -------------------------------------------------------------------
def test_upload_process_and_read_back(world: Stack) -> None:
    user = world.people.user
    body = world.upload(user, "fruit.txt", FRUIT, metadata=json.dumps({"source": "test"}))
    assert body["filename"] == "fruit.txt" and body["user_id"] == user.id
    assert body["data"] == {"status": "pending"}
    assert body["meta"] == {"name": "fruit.txt", "content_type": "text/plain",
                            "size": len(FRUIT), "data": {"source": "test"}}
    file_id = body["id"]
    assert world.wait_status(user, file_id) == {"status": "completed"}

    got = world.client.get(f"{API}/{file_id}", headers=user.headers).json()
    assert got["data"]["status"] == "completed" and got["data"]["content"] == FRUIT
    assert got["hash"] and got["path"].startswith("sha256/")
    listed = world.client.get(f"{API}/", headers=user.headers).json()
    assert file_id in [f["id"] for f in listed]
    bare = world.client.get(f"{API}/", params={"content": "false"}, headers=user.headers).json()
    assert all("content" not in f["data"] for f in bare)
    r = world.client.get(f"{API}/{file_id}/data/content", headers=user.headers)
    assert r.json() == {"content": FRUIT}

    r = world.client.get(f"{API}/{file_id}/content", headers=user.headers)
    assert r.status_code == 200 and r.content == FRUIT.encode()
    assert r.headers["content-type"].startswith("text/plain")
    assert "content-disposition" not in r.headers  # text/plain shows inline, as the reference
    r = world.client.get(f"{API}/{file_id}/content", params={"attachment": "true"},
                         headers=user.headers)
    assert r.headers["content-disposition"] == "attachment; filename*=UTF-8''fruit.txt"

    hits = world.container.retrieval.query([f"file-{file_id}"], "Which fruit has potassium?", 1)
    assert hits and "Bananas" in hits[0].text


@pytest.mark.parametrize("name,ctype,make,phrase", [
    ("notes.md", "text/markdown", lambda t: f"# Title\n\n{t}".encode(), "lighthouse"),
    ("table.csv", "text/csv", lambda t: f"topic,fact\nsea,{t}\n".encode(), "fact: The"),
    ("data.json", "application/json", lambda t: json.dumps({"fact": t}).encode(), "lighthouse"),
    ("page.html", "text/html",
     lambda t: f"<html><script>alert(1)</script><body><p>{t}</p></body></html>".encode(),
     "lighthouse"),
    ("doc.pdf", "application/pdf", pdf_bytes, "lighthouse"),
    ("doc.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
     docx_bytes, "lighthouse"),
])
def test_formats_are_extracted(world: Stack, name: str, ctype: str, make: Any,
                               phrase: str) -> None:
    user = world.people.user
    text = "The old lighthouse keeper counted ships every night."
    file_id = world.upload(user, name, make(text), ctype)["id"]
    assert world.wait_status(user, file_id) == {"status": "completed"}
    content = world.client.get(f"{API}/{file_id}/data/content", headers=user.headers).json()
    assert phrase in content["content"] and "alert(1)" not in content["content"]


def test_bad_files_fail_readably_and_the_worker_survives(world: Stack) -> None:
    user = world.people.user
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("word/document.xml", b"0" * 30_000_000)
    cases = [("broken.pdf", b"%PDF-1.4 not really a pdf", "application/pdf"),
             ("bomb.docx", bomb.getvalue(),
              "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
             ("empty.txt", b"   \n ", "text/plain"),
             ("binary.txt", b"\x00\x01\x02" * 100, "text/plain"),
             ("bad.json", b"{not json", "application/json")]
    for name, data, ctype in cases:
        file_id = world.upload(user, name, data, ctype)["id"]
        status = world.wait_status(user, file_id)
        assert status["status"] == "failed" and status["error"], (name, status)
        if name == "empty.txt":
            assert status["error"] == Detail.EMPTY_CONTENT
        body = world.client.get(f"{API}/{file_id}", headers=user.headers).json()
        assert body["data"]["status"] == "failed" and body["data"]["error"] == status["error"]
    world.processed(user, "after.txt", "Still alive after hostile input.")


def test_types_and_processing_flags(world: Stack) -> None:
    user = world.people.user
    r = world.client.post(f"{API}/", files={"file": ("tool.exe", b"MZ\x90\x00",
                                                     "application/x-msdownload")},
                          headers=user.headers)
    assert r.status_code == 415 and r.json()["detail"] == Detail.FILE_NOT_SUPPORTED
    kept = world.upload(user, "tool.exe", b"MZ\x90\x00", "application/x-msdownload",
                        process="false")
    assert kept["data"] == {}
    assert world.client.get(f"{API}/{kept['id']}/process/status",
                            headers=user.headers).json() == {"status": "pending"}
    image = world.upload(user, "cat.png", b"\x89PNG\r\n\x1a\n....", "image/png")
    assert image["data"] == {}  # images are stored, not processed
    inline = world.upload(user, "inline.txt", "Processed before the answer.",
                          process_in_background="false")
    assert inline["data"] == {"status": "completed", "content": "Processed before the answer."}


def test_size_limit(world: Stack) -> None:
    admin, user = world.people.admin, world.people.user
    r = world.client.post("/api/v1/retrieval/config/update", json={"FILE_MAX_SIZE": 1},
                          headers=admin.headers)
    assert r.status_code == 200 and r.json()["FILE_MAX_SIZE"] == 1
    try:
        for size in (1_300_000, 3_000_000):  # streamed past the limit; declared past it
            r = world.client.post(f"{API}/", files={"file": ("big.txt", b"a" * size,
                                                             "text/plain")},
                                  headers=user.headers)
            assert r.status_code == 413, r.text
            assert r.json()["detail"] == Detail.FILE_TOO_LARGE("1MB")
        world.upload(user, "small.txt", b"a" * 1000)
    finally:
        r = world.client.post("/api/v1/retrieval/config/update", json={"FILE_MAX_SIZE": 100},
                              headers=admin.headers)
        assert r.status_code == 200


def test_filenames_are_sanitised(world: Stack) -> None:
    user = world.people.user
    for raw, clean in [("../../etc/passwd", "passwd"), ("..\\..\\evil.txt", "evil.txt"),
                       ("invoice\u202egpj.exe", "invoicegpj.exe"), ("..", "file"),
                       ("x" * 400 + ".txt", "x" * 251 + ".txt")]:
        body = world.upload(user, raw, "hello", process="false")
        assert body["filename"] == clean and body["meta"]["name"] == clean
    name = "résumé final.pdf"
    file_id = world.upload(user, name, pdf_bytes("A resume."), "application/pdf",
                           process="false")["id"]
    r = world.client.get(f"{API}/{file_id}/content", headers=user.headers)
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"] == "inline; filename*=UTF-8''r%C3%A9sum%C3%A9%20final.pdf"


def test_search_with_wildcards(world: Stack) -> None:
    owner, other, admin = world.fresh("Searcher"), world.fresh("Nosy"), world.people.admin
    for name in ("report-2024.md", "report-2025.md", "notes.txt", "100%_done.txt"):
        world.upload(owner, name, "x", process="false")

    def names(caller: Any, pattern: str, **params: Any) -> list[str] | int:
        r = world.client.get(f"{API}/search", params={"filename": pattern, **params},
                             headers=caller.headers)
        return sorted(f["filename"] for f in r.json()) if r.status_code == 200 else r.status_code

    assert names(owner, "*.md") == ["report-2024.md", "report-2025.md"]
    assert names(owner, "REPORT-202?.MD") == ["report-2024.md", "report-2025.md"]
    assert names(owner, "100%_*") == ["100%_done.txt"]
    assert names(owner, "*", skip=1, limit=2) == ["notes.txt", "report-2025.md"]  # upload order
    assert names(owner, "%") == 404  # % is literal, not a wildcard
    r = world.client.get(f"{API}/search", params={"filename": "nothing*"}, headers=owner.headers)
    assert r.status_code == 404 and r.json()["detail"] == "No files found matching the pattern."
    assert names(other, "report*") == 404
    assert "report-2024.md" in names(admin, "report*")  # type: ignore[operator]


def test_process_status_stream(world: Stack) -> None:
    user = world.people.user
    file_id = world.upload(user, "stream.txt", "Streams of status until done.")["id"]
    with world.client.stream("GET", f"{API}/{file_id}/process/status",
                             params={"stream": "true"}, headers=user.headers) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = [json.loads(line[len("data: "):]) for line in r.iter_lines()
                  if line.startswith("data: ")]
    assert events[-1] == {"status": "completed"}
    assert len(events) == len({json.dumps(e) for e in events})  # changes only
    broken = world.upload(user, "broken.pdf", b"%PDF-1.4 nope", "application/pdf")["id"]
    with world.client.stream("GET", f"{API}/{broken}/process/status",
                             params={"stream": "true"}, headers=user.headers) as r:
        last = [line for line in r.iter_lines() if line.startswith("data: ")][-1]
    assert json.loads(last[6:])["status"] == "failed"


def test_content_update_reindexes(world: Stack) -> None:
    user, other = world.people.user, world.people.other
    file_id = world.processed(user, "edit.txt", "Penguins live in Antarctica.")
    retrieval = world.container.retrieval
    assert "Penguins" in retrieval.query([f"file-{file_id}"], "birds on ice", 1)[0].text
    url = f"{API}/{file_id}/data/content/update"
    assert world.client.post(url, json={"content": "x"}, headers=other.headers).status_code == 404
    r = world.client.post(url, json={"content": "  "}, headers=user.headers)
    assert r.status_code == 400 and r.json()["detail"] == Detail.EMPTY_CONTENT
    r = world.client.post(url, json={"content": "Volcanoes erupt molten lava."},
                          headers=user.headers)
    assert r.status_code == 200 and r.json() == {"content": "Volcanoes erupt molten lava."}
    assert world.client.get(f"{API}/{file_id}/process/status",
                            headers=user.headers).json() == {"status": "completed"}
    hits = retrieval.query([f"file-{file_id}"], "birds on ice", 5)
    assert [h.text for h in hits] == ["Volcanoes erupt molten lava."]
    got = world.client.get(f"{API}/{file_id}", headers=user.headers).json()
    assert got["data"]["content"] == "Volcanoes erupt molten lava."


def test_html_content_only_for_files_admins_uploaded(world: Stack) -> None:
    admin, user = world.people.admin, world.people.user
    page = "<html><body><h1>Report</h1></body></html>"
    mine = world.upload(admin, "report.html", page, "text/html", process="false")["id"]
    theirs = world.upload(user, "evil.html", "<script>alert(1)</script>", "text/html",
                          process="false")["id"]
    r = world.client.get(f"{API}/{mine}/content/html", headers=admin.headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert r.text == page
    assert world.client.get(f"{API}/{theirs}/content/html",
                            headers=user.headers).status_code == 404
    assert world.client.get(f"{API}/{theirs}/content/html",
                            headers=admin.headers).status_code == 404
    r = world.client.get(f"{API}/{theirs}/content", headers=user.headers)
    assert r.headers["content-disposition"].startswith("attachment")  # never rendered inline


def test_jobs_are_idempotent(world: Stack) -> None:
    user = world.people.user
    file_id = world.processed(user, "twice.txt", "Run me twice, change nothing.")
    files = world.container.files
    version = files.aggregate(file_id).version
    head = world.container.store.head()
    threads = [threading.Thread(target=files.process, args=(file_id,)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    world.container.jobs.enqueue("files.process", file_id=file_id)
    assert files.aggregate(file_id).version == version == 3  # Uploaded, Extracted, Processed
    assert world.container.store.head() == head


def test_transient_failures_are_retried_with_backoff(world: Stack,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The inline run fails twice on the embedding step (a flaky endpoint); the retries (in the
    worker process on PostgreSQL) finish the job, and each failure is on the File."""
    user, files = world.people.user, world.container.files
    retrieval = world.container.retrieval
    real, calls = retrieval.embed_chunks, []

    def flaky(texts: list[str]) -> str:
        calls.append(len(texts))
        if len(calls) <= 2:
            raise RuntimeError("embedding endpoint unreachable")
        return str(real(texts))

    monkeypatch.setattr(retrieval, "embed_chunks", flaky)
    monkeypatch.setattr(files, "retry_base", 0.05)
    body = world.upload(user, "flaky.txt", "Transient trouble, then success.",
                        process_in_background="false")
    assert body["data"]["status"] == "pending"
    assert world.wait_status(user, body["id"]) == {"status": "completed"}
    file = files.aggregate(body["id"])
    retried = [e for e in world.container.store.app.repository.event_store.get(file.id)
               if type(e).__name__ == "ProcessingRetried"]
    assert len(retried) >= 1 and "embedding failed" in retried[0].error
    assert file.error is None and file.status == "completed"


def test_delete_all_is_for_admins(world: Stack) -> None:
    user = world.people.user
    file_id = world.upload(user, "doomed.txt", "x", process="false")["id"]
    for who in ("anonymous", "pending", "user", "other"):
        assert world.client.delete(f"{API}/all", headers=world.headers(who)).status_code == 401
    r = world.client.delete(f"{API}/all", headers=world.people.admin.headers)
    assert r.status_code == 200 and r.json() == {"message": "All files deleted successfully"}
    assert world.client.get(f"{API}/{file_id}", headers=world.caught_up(user)).status_code == 404
    assert world.client.get(f"{API}/", headers=world.people.admin.headers).json() == []


# -- who may call what ---------------------------------------------------------------------------
def test_who_may_call_each_route(world: Stack) -> None:
    user = world.fresh("Owner")
    file_id = world.processed(user, "owned.txt", "Only mine.")
    people = {"anonymous": None, "pending": world.people.pending.headers,
              "owner": user.headers, "other": world.people.other.headers,
              "admin": world.people.admin.headers}
    reads = [("GET", f"{API}/{file_id}"), ("GET", f"{API}/{file_id}/content"),
             ("GET", f"{API}/{file_id}/data/content"),
             ("GET", f"{API}/{file_id}/process/status")]
    expected = {"anonymous": 401, "pending": 401, "owner": 200, "other": 404, "admin": 200}
    for method, url in reads:
        for who, headers in people.items():
            r = world.client.request(method, url, headers=headers)
            assert r.status_code == expected[who], (method, url, who, r.text)
    html = {"anonymous": 401, "pending": 401, "owner": 404, "other": 404, "admin": 404}
    for who, headers in people.items():  # a user's file is never served as HTML
        r = world.client.get(f"{API}/{file_id}/content/html", headers=headers)
        assert r.status_code == html[who], who
    lists = {"anonymous": 401, "pending": 401, "owner": 200, "other": 200, "admin": 200}
    for who, headers in people.items():
        r = world.client.get(f"{API}/", headers=headers)
        assert r.status_code == lists[who]
        r2 = world.client.get(f"{API}/search", params={"filename": "owned*"}, headers=headers)
        assert r2.status_code == {**lists, "other": 404}[who]
        if who in ("owner", "admin"):
            assert file_id in [f["id"] for f in r.json()]
        elif who == "other":
            assert file_id not in [f["id"] for f in r.json()]
        up = world.client.post(f"{API}/", files={"file": ("a.txt", b"a", "text/plain")},
                               params={"process": "false"}, headers=headers)
        assert up.status_code == lists[who]
    update = f"{API}/{file_id}/data/content/update"
    for who in ("anonymous", "pending", "other"):
        r = world.client.post(update, json={"content": "hijack"}, headers=people[who])
        assert r.status_code == expected[who]
        assert world.client.delete(f"{API}/{file_id}", headers=people[who]).status_code == \
            expected[who]
    r = world.client.post(update, json={"content": "Edited by an admin."},
                          headers=people["admin"])
    assert r.status_code == 200
    assert world.client.delete(f"{API}/{file_id}", headers=people["admin"]).status_code == 200


def test_bad_input_is_4xx(world: Stack) -> None:
    user = world.people.user
    h = user.headers
    for metadata in ("not json", "[1, 2]", '"text"', "1" * 70_000):
        r = world.client.post(f"{API}/", files={"file": ("a.txt", b"a", "text/plain")},
                              data={"metadata": metadata}, headers=h)
        assert r.status_code == 400, metadata
    assert world.client.post(f"{API}/", headers=h).status_code == 422
    assert world.client.post(f"{API}/", data={"file": "not a file"}, headers=h).status_code == 422
    assert world.client.post(f"{API}/", files={"file": ("a.txt", b"a", "text/plain")},
                             params={"process": "maybe"}, headers=h).status_code == 422
    for params in ({"filename": ""}, {"filename": "x" * 300}, {"filename": "a", "limit": 0},
                   {"filename": "a", "skip": -1}, {}):
        assert world.client.get(f"{API}/search", params=params, headers=h).status_code == 422
    for file_id in ("nope", "../../etc/passwd", "%00", "x" * 2000):
        for url in (f"{API}/{file_id}", f"{API}/{file_id}/content",
                    f"{API}/{file_id}/data/content", f"{API}/{file_id}/process/status"):
            assert world.client.get(url, headers=h).status_code == 404, url
        assert world.client.delete(f"{API}/{file_id}", headers=h).status_code == 404
    file_id = world.upload(user, "b.txt", "b", process="false")["id"]
    url = f"{API}/{file_id}/data/content/update"
    assert world.client.post(url, json={}, headers=h).status_code == 422
    assert world.client.post(url, json={"content": 5}, headers=h).status_code == 422
    assert world.client.post(url, content=b"{", headers={**h, "content-type":
                                                         "application/json"}).status_code == 422


# -- deletion ----------------------------------------------------------------------------------
def test_delete_removes_file_vectors_and_bytes(world: Stack) -> None:
    user, other = world.fresh("Deleter"), world.people.other
    file_id = world.processed(user, "gone.txt", "Ephemeral words about tortoises.")
    row = world.container.files.files.get(file_id)
    retrieval, mirror = world.container.retrieval, world.container.retrieval.index
    assert retrieval.query([f"file-{file_id}"], "tortoises", 3)
    assert world.client.delete(f"{API}/{file_id}", headers=other.headers).status_code == 404
    r = world.client.delete(f"{API}/{file_id}", headers=user.headers)
    assert r.status_code == 200 and r.json() == {"message": "File deleted successfully"}
    assert world.client.get(f"{API}/{file_id}", headers=user.headers).status_code == 404
    assert world.client.delete(f"{API}/{file_id}", headers=user.headers).status_code == 404
    assert retrieval.query([f"file-{file_id}"], "tortoises", 3) == []
    assert mirror.count(f"file-{file_id}") == 0
    files = world.container.files
    files.collect_grace = 0.0
    assert row is not None
    assert sorted(files.collect([row["content_hash"]])) == [row["content_hash"]]
    assert not files.storage.exists(row["content_hash"])
