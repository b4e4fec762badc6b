"""A real Hugging Face Hub-compatible HTTP server on 127.0.0.1, for the Hub push: the endpoints that
`huggingface_hub`'s `create_repo` and `upload_folder` call, answered as the Hub answers them.

- POST /api/repos/create: 401 without a token, 409 for a repo that exists, else the repo's URL.
- POST /api/validate-yaml: a README's front matter must parse as YAML (400 with the Hub's `errors` if not).
- POST /api/<type>s/<repo>/preupload/<rev>: every file as a regular blob with the oid of the file the repo
  holds, so that `huggingface_hub` leaves unchanged files out of the commit (the real Hub sends large and binary
  files through LFS or Xet, which this server does not implement: the files here are small).
- POST /api/<type>s/<repo>/commit/<rev>: the NDJSON commit (header, base64 files, deletions) becomes a commit.
- GET /api/<type>s/<repo>[/revision/<rev>]: the repo's info, with the sha of its last commit.
GET /_stats returns every repo with its commits and the sha256 of each file it holds; GET
/_files/<type>/<repo>/<path> returns a file's bytes. Run it as a process (`python -m tests.hub_server`): it
prints its port on the first line.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import yaml

REPO = r"(?P<type>model|dataset|space)s/(?P<repo>[\w.-]+/[\w.-]+)"
LOCK = threading.Lock()
REPOS: dict[str, dict[str, Any]] = {}  # "<type>/<repo>" -> {"private", "commits": [...], "files": {path: bytes}}


def git_oid(content: bytes) -> str:
    """The git blob sha1 that the Hub gives a regular file (and `huggingface_hub` computes to compare)."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


class Hub(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:  # quiet: the tests read /_stats
        pass

    def reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream" if isinstance(body, bytes) else "application/json")
        self.send_header("Content-Length", str(len(raw)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(raw)

    def body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def repo(self, match: re.Match[str]) -> dict[str, Any] | None:
        repo = REPOS.get(f"{match['type']}/{match['repo']}")
        if repo is None:
            self.reply(404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})
        return repo

    def authorized(self) -> bool:
        if not self.headers.get("Authorization", "").startswith("Bearer hf_"):
            self.reply(401, {"error": "Invalid credentials in Authorization header"})
            return False
        return True

    def do_GET(self) -> None:
        with LOCK:
            if self.path == "/_stats":
                stats = {
                    key: {
                        "private": r["private"],
                        "commits": r["commits"],
                        "files": {p: hashlib.sha256(c).hexdigest() for p, c in r["files"].items()},
                    }
                    for key, r in REPOS.items()
                }
                return self.reply(200, stats)
            if m := re.fullmatch(r"/_files/(?P<key>\w+/[\w.-]+/[\w.-]+)/(?P<path>.+)", self.path):
                content = REPOS.get(m["key"], {}).get("files", {}).get(m["path"])
                return self.reply(200, content) if content is not None else self.reply(404, {"error": "no file"})
            if m := re.fullmatch(rf"/api/{REPO}(/revision/(?P<rev>[\w.-]+))?", self.path.split("?")[0]):
                if (repo := self.repo(m)) is not None:
                    sha = repo["commits"][-1]["oid"] if repo["commits"] else "0" * 40
                    self.reply(200, {"id": m["repo"], "sha": sha, "private": repo["private"], "siblings": []})
                return None
        self.reply(404, {"error": f"no route {self.path}"})

    def do_POST(self) -> None:
        body = self.body()
        with LOCK:
            if self.path == "/api/repos/create":
                if not self.authorized():
                    return None
                request = json.loads(body)
                kind = request.get("type") or "model"
                name = f"{request['organization']}/{request['name']}"
                key = f"{kind}/{name}"
                url = f"http://{self.headers['Host']}/{kind}s/{name}" if kind != "model" else name
                if key in REPOS:
                    return self.reply(409, {"error": f"You already created this {kind} repo", "url": url})
                REPOS[key] = {"private": request.get("visibility") == "private", "commits": [], "files": {}}
                return self.reply(200, {"url": url, "name": name})
            if self.path == "/api/validate-yaml":
                content = json.loads(body)["content"]
                front = re.match(r"---\n(.*?)\n---\n", content, re.S)
                try:
                    yaml.safe_load(front.group(1) if front else "")
                except yaml.YAMLError as e:
                    return self.reply(400, {"errors": [{"message": f"Invalid YAML: {e}"}]})
                return self.reply(200, {"errors": [], "warnings": []})
            if m := re.fullmatch(rf"/api/{REPO}/preupload/(?P<rev>[\w.-]+)", self.path):
                if (repo := self.repo(m)) is None or not self.authorized():
                    return None
                files = [
                    {
                        "path": f["path"],
                        "uploadMode": "regular",
                        "shouldIgnore": False,
                        "oid": git_oid(repo["files"][f["path"]]) if f["path"] in repo["files"] else None,
                    }
                    for f in json.loads(body)["files"]
                ]
                return self.reply(200, {"files": files, "commitOid": "0" * 40})
            if m := re.fullmatch(rf"/api/{REPO}/commit/(?P<rev>[\w.-]+)", self.path):
                if (repo := self.repo(m)) is None or not self.authorized():
                    return None
                lines = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
                header = next(x["value"] for x in lines if x["key"] == "header")
                changed = []
                for line in lines:
                    value = line["value"]
                    if line["key"] == "file":
                        repo["files"][value["path"]] = base64.b64decode(value["content"])
                        changed.append(value["path"])
                    elif line["key"] == "deletedFile":
                        repo["files"].pop(value["path"], None)
                        changed.append(value["path"])
                    elif line["key"] != "header":
                        return self.reply(400, {"error": f"this server takes no '{line['key']}' entries"})
                oid = hashlib.sha1(body).hexdigest()
                repo["commits"].append({"oid": oid, "summary": header.get("summary"), "files": changed})
                url = f"http://{self.headers['Host']}/{m['type']}s/{m['repo']}/commit/{oid}"
                return self.reply(200, {"commitUrl": url, "commitOid": oid, "pullRequestUrl": None})
        self.reply(404, {"error": f"no route {self.path}"})


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hub)
    print(server.server_address[1], flush=True)
    server.serve_forever()
