"""Browser tests (a package, so its conftest does not shadow tests/service/conftest)."""
