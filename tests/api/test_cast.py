def test_cast_roles(client, people):
    r = client.get("/api/v1/auths/", headers=people.pending.headers)
    assert r.status_code == 200 and r.json()["role"] == "pending"
    r = client.get("/api/v1/users/permissions", headers=people.pending.headers)
    assert r.status_code == 401
