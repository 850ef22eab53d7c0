"""Local tooling (not deployed): embedded Redis, the `make run` launcher, test and bench helpers."""
