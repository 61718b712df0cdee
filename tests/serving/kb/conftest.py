"""The support knowledge base's tests search too: the search fixtures (a real Typesense, the app wired to it, the
queue drain) are the search tests' own, reused here."""

from tests.serving.search.conftest import drain, index, search_client, search_settings  # noqa: F401
