# SPDX-License-Identifier: MIT
# Shared by tools/run, tools/test and bench/run: the Debian packages the appliance needs, and
# configuring a build directory. Sourced, not run.

# Build and run dependencies, all from Debian 12 (bookworm).
INGEST_PACKAGES=(
  meson ninja-build pkg-config gcc g++ clang llvm libclang-rt-14-dev
  libdpdk-dev dpdk liburing-dev libhyperscan-dev libjemalloc-dev libsqlite3-dev libssl-dev
  libbenchmark-dev libmicrohttpd-dev libjansson-dev libcbor-dev libcjson-dev libcurl4-openssl-dev
  libpcre2-dev zlib1g-dev libzip-dev libsnappy-dev libzstd-dev libjq-dev libyaml-dev libhttp-parser-dev
  gnuplot-nox python3 python3-pytest python3-pytest-xdist python3-boto3 python3-cbor2 awscli iproute2 iputils-ping procps
)

ingest_log() { printf '==> %s\n' "$*" >&2; }

# Install what is missing (apt-get update first). Needs root; says so otherwise.
ingest_install_deps() {
  local missing=()
  for p in "${INGEST_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    ingest_log "Debian packages: all ${#INGEST_PACKAGES[@]} present"
    return 0
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "error: missing Debian packages (${missing[*]}); run as root so they can be installed" >&2
    return 1
  fi
  ingest_log "installing ${#missing[@]} Debian package(s): ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q || { echo "error: apt-get update failed; check the Debian mirror" >&2; return 1; }
  apt-get install -y -q --no-install-recommends "${missing[@]}" ||
    { echo "error: apt-get install failed for: ${missing[*]}" >&2; return 1; }
}

# ingest_build DIR [meson options...]: configure DIR once (reconfigure if options changed), build.
ingest_build() {
  local dir=$1; shift
  if [ -f "$dir/build.ninja" ]; then
    meson configure "$dir" "$@" >/dev/null || return 1
  else
    meson setup "$dir" "$@" >"$dir.setup.log" 2>&1 || { cat "$dir.setup.log" >&2; return 1; }
    rm -f "$dir.setup.log"
  fi
  ninja -C "$dir" || return 1
}
