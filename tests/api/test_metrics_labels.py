def test_latency_is_labelled_by_full_route_template(client, people):
    client.get("/api/v1/users/", headers=people.admin.headers)
    client.get(f"/api/v1/users/{people.user.id}", headers=people.admin.headers)
    client.get("/no/such/route")
    text = client.get("/metrics").text
    counts = [line for line in text.splitlines()
              if line.startswith("chronicle_http_request_duration_seconds_count")]
    assert any('route="/api/v1/users/"' in line for line in counts), counts
    assert any('route="/api/v1/users/{user_id}"' in line for line in counts), counts
    assert any('route="unmatched"' in line for line in counts), counts
    assert not any(people.user.id in line for line in counts)  # ids never become labels
    assert "chronicle_projection_lag_events" in text and "chronicle_commands_total" in text
