"""Encoding: compile the authoring sources under data/ into RDF named graphs."""
