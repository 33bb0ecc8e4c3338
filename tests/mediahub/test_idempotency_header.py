"""An Idempotency-Key the database cannot hold is a 400 naming the header, never a 500."""

import pytest


def _bodies(asset_id: str) -> dict:
    job = {"operation": "thumbnail", "input": asset_id, "params": {"count": 1}}
    return {
        "/api/v1/jobs": job,
        "/api/v1/batches": {"jobs": [job]},
        "/api/v1/compositions": {"clips": [{"asset": asset_id, "duration": 1}]},
    }


@pytest.mark.parametrize("key", ["a\x00b", "tab\there", "x" * 256])
@pytest.mark.parametrize("path", ["/api/v1/jobs", "/api/v1/batches", "/api/v1/compositions"])
def test_an_unusable_idempotency_key_is_a_validation_error(alice_api, alice_clip, path, key):
    response = alice_api.post(path, _bodies(alice_clip["id"])[path], format="json", HTTP_IDEMPOTENCY_KEY=key)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert "Idempotency-Key" in error["fields"]


def test_a_long_printable_key_is_kept_whole(alice_api, alice_clip):
    key = "k" * 255
    body = _bodies(alice_clip["id"])["/api/v1/jobs"]

    first = alice_api.post("/api/v1/jobs", body, format="json", HTTP_IDEMPOTENCY_KEY=key)
    again = alice_api.post("/api/v1/jobs", body, format="json", HTTP_IDEMPOTENCY_KEY=key)

    assert first.status_code == 202
    assert again.json()["id"] == first.json()["id"]
