#!/usr/bin/env bash
# Builds a Debian package of ptview: dist/ptview_<version>_<arch>.deb, with the release binary
# (the Swift runtime linked in, so the machine it goes to needs no Swift), its man page and its
# bash, zsh and fish completions. Depends: is computed, not written by hand: dpkg-shlibdeps
# reads the libraries the binary links (ncursesw, libc...) and names the packages that provide
# them, with the versions their symbols need. libzip4 is added by hand: ptview opens it with
# dlopen at the first compressed zip record (TorchScript code, archives other tools wrote), so
# dpkg-shlibdeps cannot see it, yet reading such files needs it: Depends, not Recommends.
# libcurl4 is Recommends: opened with dlopen to read URLs only, a feature apart. The
# version is the one `ptview --version` prints. Prints the package's path.
#
#   bash Scripts/package.sh [--output-dir DIR]     # default: dist/
#
# It shares the release build with setup.sh (Scripts/release_build.sh): after setup, only an
# up-to-date check. Tests/Install/run.sh installs the result and removes it again.
set -euo pipefail
cd "$(dirname "$0")/.."
out=dist
while (($#)); do
  case $1 in
    --output-dir) out=${2:?--output-dir needs a folder}; shift 2 ;;
    --output-dir=*) out=${1#--output-dir=}; shift ;;
    *) echo "package: unknown argument '$1' (see the comment at the top)" >&2; exit 64 ;;
  esac
done

source Scripts/apt_packages.sh
ensure_packages libzip-dev libncursesw5-dev pkg-config dpkg-dev binutils
source Scripts/release_build.sh
release_build

version=$("$RELEASE_BIN/ptview" --version | awk '{ print $2 }')
arch=$(dpkg --print-architecture)
name="ptview_${version}_${arch}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The package's tree, where dpkg-shlibdeps expects it: debian/PACKAGE in a source package.
stage="$work/src/debian/ptview"

echo "package: staging $name"
mkdir -p "$stage/DEBIAN"
bash Scripts/install.sh --debian --prefix "$stage/usr" --binary "$RELEASE_BIN/ptview" \
  --manual-tool "$RELEASE_BIN/generate-manual"

# dpkg-shlibdeps runs inside a source package: give it the smallest one.
printf 'Source: ptview\n\nPackage: ptview\nArchitecture: any\n' >"$work/src/debian/control"
depends=$(cd "$work/src" && dpkg-shlibdeps -O debian/ptview/usr/bin/ptview |
  sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || { echo "package: dpkg-shlibdeps found no dependencies" >&2; exit 1; }
# Opened with dlopen (Sources/CLibzip), so not among what the binary links.
depends="$depends, libzip4"

cat >"$stage/DEBIAN/control" <<EOF
Package: ptview
Version: $version
Architecture: $arch
Maintainer: ptview developers <ptview@users.noreply.invalid>
Installed-Size: $(du -sk "$stage/usr" | cut -f1)
Depends: $depends
Recommends: libcurl4
Section: utils
Priority: optional
Description: inspect and fix PyTorch checkpoints without PyTorch
 ptview reads PyTorch checkpoint files (torch.save zips, legacy streams,
 TorchScript, safetensors) by parsing the container and the pickle itself,
 without running anything from the file. It lists tensors, explains what a
 plain torch.load would do and how to fix it, flags pickles that would run
 code, moves tensors between devices, and rewrites checkpoints (strip key
 prefixes, extract the weights, cast) as files torch.load accepts.
EOF

mkdir -p "$out"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$out/$name.deb" >/dev/null
echo "package: Depends: $depends"
echo "package: wrote $(cd "$out" && pwd)/$name.deb ($(du -h "$out/$name.deb" | cut -f1))"
