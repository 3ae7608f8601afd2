"""Tests written to kill mutants that survived `make mutate` (docs/testing.md)."""
