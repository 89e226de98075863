"""Readings of the running pipeline for `catsvdogs top` (dashboard figures) and `catsvdogs status` (component health)."""
