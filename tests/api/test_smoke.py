def test_signup_signin_and_read_your_writes(client):
    r = client.post("/api/v1/auths/signup", json={"name": "Ada", "email": "Ada@Example.com",
                                                  "password": "pw-123456"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["role"] == "admin" and body["email"] == "ada@example.com"
    assert int(r.headers["X-Chronicle-Position"]) > 0
    token = body["token"]
    h = {"Authorization": f"Bearer {token}"}
    r = client.get("/api/v1/users/", headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["total"] == 1
    r = client.post("/api/v1/auths/signin", json={"email": "ada@example.com", "password": "nope"})
    assert r.status_code == 400
