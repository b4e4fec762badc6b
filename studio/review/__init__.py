"""Human review in Argilla: the local server (server.py), push a sample (push.py), pull the answers (pull.py).

    studio review serve           # a local Argilla 2.8 on 127.0.0.1 (no Docker)
    studio review push            # a sample of 03-unique.jsonl to the run's dataset
    studio review pull [--wait]   # decisions and corrections into 04-reviewed.jsonl

The rest: client.py (Argilla's REST API), connection.py (which Argilla), dataset.py (the dataset's
settings and records), sample.py (which items), consensus.py (several reviewers, one decision), and
in_server/ (studio's code that runs inside argilla-server's own venv).
"""
