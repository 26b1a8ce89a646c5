"""One module per build.py subcommand; each defines ``main(argv: list[str]) -> int``."""
