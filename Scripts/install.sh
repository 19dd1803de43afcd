#!/usr/bin/env bash
# Installs a built ptview under a prefix with its man page and its bash, zsh and fish
# completions, all generated from the binary's own command definitions:
#
#   PREFIX/bin/ptview
#   PREFIX/share/man/man1/ptview.1
#   PREFIX/share/bash-completion/completions/ptview
#   PREFIX/share/zsh/site-functions/_ptview
#   PREFIX/share/fish/vendor_completions.d/ptview.fish
#
#   bash Scripts/install.sh --prefix DIR --binary FILE --manual-tool FILE
#   bash Scripts/install.sh --prefix DIR --uninstall      # removes exactly those files
#
# setup.sh runs it after building; package.sh runs it with --debian on a staging tree
# (PREFIX=STAGE/usr), which strips the binary, gzips the man page and puts the zsh function in
# share/zsh/vendor-completions, where Debian's zsh looks for packaged ones. Completions come
# from `ptview --generate-completion-script SHELL` (swift-argument-parser's generator); the man
# page from the parser's generate-manual tool, dated by the commit (or SOURCE_DATE_EPOCH), with
# two fixes to its mdoc: blank lines become .Pp (groff warns about each one on every `man
# ptview`) and the indented example lines of each command become literal displays, so they
# are not run together into one filled paragraph. sudo is used only when PREFIX is not
# writable and we are not root.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
prefix="" binary="" tool="" debian=false uninstall=false
while (($#)); do
  case $1 in
    --prefix) prefix=${2:?--prefix needs a folder}; shift 2 ;;
    --prefix=*) prefix=${1#--prefix=}; shift ;;
    --binary) binary=${2:?--binary needs a file}; shift 2 ;;
    --manual-tool) tool=${2:?--manual-tool needs a file}; shift 2 ;;
    --debian) debian=true; shift ;;
    --uninstall) uninstall=true; shift ;;
    *) echo "install.sh: unknown argument '$1' (see the comment at the top)" >&2; exit 64 ;;
  esac
done
[ -n "$prefix" ] || { echo "install.sh: --prefix DIR is required" >&2; exit 64; }
case $prefix in /*) ;; *) prefix="$(pwd)/$prefix" ;; esac
prefix=${prefix%/}

zsh_dir=site-functions
$debian && zsh_dir=vendor-completions
man_page="$prefix/share/man/man1/ptview.1"
$debian && man_page+=".gz"
files=(
  "$prefix/bin/ptview"
  "$man_page"
  "$prefix/share/bash-completion/completions/ptview"
  "$prefix/share/zsh/$zsh_dir/_ptview"
  "$prefix/share/fish/vendor_completions.d/ptview.fish"
)

# sudo only for a prefix we cannot write as ourselves (the default /usr/local, not as root).
as_owner=()
existing=$prefix
while [ ! -e "$existing" ]; do existing=$(dirname "$existing"); done
if [ ! -w "$existing" ] && [ "$(id -u)" -ne 0 ]; then as_owner=(sudo); fi

if $uninstall; then
  "${as_owner[@]}" rm -f "${files[@]}"
  printf 'removed %s\n' "${files[@]}"
  exit 0
fi
[ -x "$binary" ] || { echo "install.sh: --binary FILE (a built ptview) is required" >&2; exit 64; }
[ -x "$tool" ] || { echo "install.sh: --manual-tool FILE (generate-manual) is required" >&2; exit 64; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The man page, dated like the sources it describes.
if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then
  date=$(date -u -d "@$SOURCE_DATE_EPOCH" +%F)
elif ! date=$(git -C "$root" log -1 --format=%cs 2>/dev/null) || [ -z "$date" ]; then
  date=$(date -u +%F)
fi
mkdir "$work/man"
"$tool" "$binary" --date "$date" --section 1 --output-directory "$work/man"
awk '
  /^  / {
    if (!literal) { print ".Bd -literal -offset 2n"; literal = 1 }
    print substr($0, 3)
    next
  }
  literal { print ".Ed"; literal = 0 }
  /^$/ { print ".Pp"; next }
  { print }
  END { if (literal) print ".Ed" }
' "$work/man/ptview.1" >"$work/ptview.1"

for shell in bash zsh fish; do
  "$binary" --generate-completion-script "$shell" >"$work/completion.$shell"
done

put() { # MODE SOURCE DESTINATION
  "${as_owner[@]}" mkdir -p "$(dirname "$3")"
  "${as_owner[@]}" install -m "$1" "$2" "$3"
}
if $debian; then
  cp "$binary" "$work/ptview"
  strip --strip-unneeded --remove-section=.comment --remove-section=.note "$work/ptview"
  gzip -9n "$work/ptview.1"
  put 755 "$work/ptview" "${files[0]}"
  put 644 "$work/ptview.1.gz" "${files[1]}"
else
  put 755 "$binary" "${files[0]}"
  put 644 "$work/ptview.1" "${files[1]}"
fi
put 644 "$work/completion.bash" "${files[2]}"
put 644 "$work/completion.zsh" "${files[3]}"
put 644 "$work/completion.fish" "${files[4]}"
printf '  %s\n' "${files[@]}"
