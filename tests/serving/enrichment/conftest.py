"""The enrichment tests' fake vendor server (vendor_fakes.vendor) as a fixture."""
from tests.serving.enrichment.vendor_fakes import vendor  # noqa: F401
