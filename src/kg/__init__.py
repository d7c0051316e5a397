"""alignkg: a knowledge graph of international alignment around Russia's invasion of Ukraine."""

__version__ = "1.0.0"
