import pytest

from keys.services import provider_credential_create
from tests.providers.fakes.openai import FakeOpenAI


@pytest.fixture(autouse=True)
def _quick_polling(settings):
    """Poll the imitation providers every 50 ms instead of every few seconds."""
    settings.MEDIAHUB_GENERATION_MAX_POLL_SECONDS = 0.05


@pytest.fixture
def openai_key(alice):
    """Alice's working OpenAI key (the one the imitation accepts)."""
    return provider_credential_create(owner=alice[0], provider="openai", secret=FakeOpenAI.token, label="main")


@pytest.fixture
def generate(django_capture_on_commit_callbacks):
    """generate(client, body) → (response status, the generation JSON after its job ran inline)."""

    def _generate(client, body: dict, **headers):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post("/api/v1/generations", body, format="json", **headers)
        if response.status_code not in (200, 202):
            return response.status_code, response.json()
        return response.status_code, client.get(f"/api/v1/generations/{response.json()['id']}").json()

    return _generate
