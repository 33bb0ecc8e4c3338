import pytest


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory):
    """Composition media in a folder of its own: other test packages' session files use the same names."""
    return tmp_path_factory.mktemp("composition-media")
