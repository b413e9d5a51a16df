# Sourced by the scripts that build a tool from the Go module proxy into a
# cache outside the repo (ferretdb.sh, minio.sh, promtool.sh). Each prints
# the binary's path; a run that finds the binary built only prints it.
#
#   cached_begin NAME VERSION   exits printing the path if built; else takes the
#                               build lock, sets $cache, $bin and $work
#   module_copy MODULE VERSION  a writable copy of the module's source in $work/src
#   cached_install FILE         moves the built FILE to $bin and prints the path

cached_begin() {
  local name=$1 version=$2
  cache=${TIDELOG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tidelog}
  bin=$cache/$name-$version/$name
  if [ -x "$bin" ]; then
    echo "$bin"
    exit 0
  fi
  mkdir -p "$cache"
  # Test binaries of several packages may ask at once: one builds, the others
  # wait for it and then find the binary.
  exec 9>"$cache/$name-$version.lock"
  flock 9
  if [ -x "$bin" ]; then
    echo "$bin"
    exit 0
  fi
  work=$(mktemp -d "$cache/$name-build.XXXXXX")
  trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
}

# The module cache is read-only, and a build in a copy of the module uses the
# module's own go.mod and go.sum unchanged.
module_copy() {
  local module=$1 version=$2 dir
  # GOFLAGS=-mod=mod lets `go mod download` run outside any module.
  dir=$(cd "$work" && GOFLAGS=-mod=mod go mod download -json "$module@$version" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -n "$dir" ] || { echo "$(basename "$0"): could not download $module $version" >&2; exit 1; }
  cp -r "$dir" "$work/src"
  chmod -R u+w "$work/src"
}

cached_install() {
  mkdir -p "$(dirname "$bin")"
  mv "$1" "$bin.tmp"
  mv "$bin.tmp" "$bin"
  echo "$bin"
}
