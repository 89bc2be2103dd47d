"""One module per CLI verb: ``register(subparsers)`` adds the parser and sets ``run``."""
