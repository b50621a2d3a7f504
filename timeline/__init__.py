"""Conflict timeline service: an event-sourced record of who claimed what about a war, and when."""
