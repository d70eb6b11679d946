"""The end-to-end tests read the session's demo warehouse: the `demo` fixture of
tests/conftest.py (`eudap demo`, built once per test session and shared by every worker)."""
