"""A read model its projector has not built yet (a first start, a rebuild's swap) answers 503
with Retry-After, never 500, on both backends."""

from __future__ import annotations

from tests.helpers import cast


def test_a_missing_read_model_is_the_servers_503_not_a_500(client, container):
    people = cast(client)
    container.host.stop()  # nothing may build it again during the test
    with container.read_db.transaction() as tx:
        tx.execute("DROP VIEW audit_events")
    r = client.get("/api/v1/audit/events", headers=people.admin.headers)
    assert r.status_code == 503, r.text
    assert r.json() == {"detail": "The server is still starting. Please try again shortly."}
    assert r.headers["Retry-After"] == "2"
