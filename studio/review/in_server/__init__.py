"""Code that runs inside argilla-server's own virtual environment, never in studio's.

It imports argilla_server (not installed in studio's venv) and nothing of studio: the launcher is run by
file path with that venv's Python.
"""
