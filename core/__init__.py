"""Pieces shared by every app: reading request parameters (``core.params``) and mapping errors to answers."""
