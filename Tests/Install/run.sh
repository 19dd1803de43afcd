#!/usr/bin/env bash
# Installs ptview as a user would, then as a Debian package, and uses what was installed:
#
#   Tests/Install/run.sh
#
# 1. `Scripts/setup.sh --no-open --prefix TMP`: the release build (shared with step 2); the
#    installed binary needs nothing from the toolchain (/opt/swift), does not link libcurl
#    (opened for URLs only) nor libzip (opened at the first compressed record) and prints this checkout's commit; `man` finds the page from PATH alone and renders it without a warning; the bash
#    completion, sourced into a clean bash and asked the way bash asks (COMP_WORDS, COMP_CWORD,
#    COMP_LINE, COMP_POINT), completes verbs, flags and file names, and bash-completion's
#    loader finds it beside the binary; zsh and fish read theirs, and fish completes with it.
# 2. `Scripts/package.sh`: the package's binary needs only libraries from the packages its
#    Depends: names (ldd, then dpkg -S on every library it loads: the ones it links directly
#    from Depends itself, the rest from what those depend on), none under /opt/swift; it
#    recommends libcurl4 and depends on libzip4 (both opened with dlopen);
#    `dpkg -i`; a deflated zip record inflates with the installed package; `ptview --version` and `ptview ls` on the example with a bare environment; man
#    and completion from the system's folders; `dpkg --purge` leaves nothing behind. Needs
#    root (CI is root); refuses to touch a ptview package that was installed before.
#
# One line per check and a closing "N passed, M failed"; non-zero when anything failed.
# Everything else is written to a temporary folder and removed.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
WORK=$(mktemp -d)
# A user's own prefix, ~/.local, in a home of its own: bash-completion looks there.
USER_HOME="$WORK/home"
PREFIX="$USER_HOME/.local"
EXAMPLE="$ROOT/examples/gpu_checkpoint.pt"
passed=0
failed=0
installed_package=false

cleanup() {
  if $installed_package; then dpkg --purge ptview >/dev/null 2>&1; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# check NAME COMMAND...: runs COMMAND (its output goes to $WORK/last.log), counts and reports.
# Each line ends with the seconds the check took (the release build is in the first one).
check() {
  local name=$1 began=$SECONDS
  shift
  if "$@" >"$WORK/last.log" 2>&1; then
    passed=$((passed + 1))
    echo "ok    $name ($((SECONDS - began)) s)"
  else
    failed=$((failed + 1))
    echo "FAIL  $name ($((SECONDS - began)) s)"
    sed 's/^/      /' "$WORK/last.log" | head -40
    return 1
  fi
}
finish() {
  echo
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
  exit
}

# The commit this checkout is at, as --version prints it (12 digits, maybe -dirty).
expected_commit=$(git -C "$ROOT" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)

version_is_this_checkout() { # BINARY
  local line
  line=$(env -i PATH=/usr/bin:/bin "$1" --version) || return 1
  echo "$line"
  [[ $line =~ ^ptview\ [0-9]+\.[0-9]+\.[0-9]+\ \(commit\ ${expected_commit}(-dirty)?\)$ ]]
}
no_toolchain_libraries() { # BINARY
  ldd "$1" | tee "$WORK/ldd.txt"
  ! grep -q -e /opt/swift -e 'not found' "$WORK/ldd.txt"
}
no_libcurl() { # BINARY: libcurl is opened with dlopen for URLs only, never linked
  ! ldd "$1" | grep -e libcurl -e libgnutls -e libkrb5 -e libldap
}
no_libzip() { # BINARY: libzip (and its libcrypto, libbz2) is opened at the first compressed record
  ! ldd "$1" | grep -e libzip -e libcrypto -e libbz2
}
man_renders() { # MAN_ARGUMENTS...: renders at 80 columns, no warnings, the sections and verbs
  env -i PATH="$PATH" MANWIDTH=80 MAN_KEEP_FORMATTING= man -P cat "$@" >"$WORK/man.txt" \
    2>"$WORK/man.err" || return 1
  cat "$WORK/man.err"
  [ ! -s "$WORK/man.err" ] || return 1
  for text in NAME SYNOPSIS DESCRIPTION "ptview remap gpu.pt --to cpu -o cpu.pt" doctor scan; do
    grep -qF -- "$text" "$WORK/man.txt" || { echo "no '$text' in the page"; return 1; }
  done
}
man_finds() { # PATH_FOR_MAN EXPECTED_FILE: man-db maps PATH's bin folders to their man pages
  local found
  found=$(env -i PATH="$1" man -w ptview) || return 1
  echo "$found"
  [ "$found" = "$2" ]
}

# complete_words WORD...: the candidates the bash completion offers for the last word.
cat >"$WORK/complete.bash" <<'EOF'
complete_words() {
  COMP_WORDS=("$@")
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  COMP_LINE="$*"
  COMP_POINT=${#COMP_LINE}
  COMPREPLY=()
  local function
  function=$(complete -p ptview | sed -n 's/.* -F \([^ ]*\) .*/\1/p')
  "$function" ptview "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
  printf '%s\n' "${COMPREPLY[@]}"
}
EOF
bash_completes() { # COMPLETION_FILE
  local script
  script=$(
    cat <<'EOF'
set -u
source "$1"
source "$2/complete.bash"
cd "$3"
expect() { # EXPECTED... -- WORD...
  local want=() got
  while [ "$1" != -- ]; do want+=("$1"); shift; done
  shift
  got=$(complete_words "$@")
  for w in "${want[@]}"; do
    grep -qxF -- "$w" <<<"$got" || { echo "'$*<TAB>' offers: $(echo $got); not $w"; return 1; }
  done
  echo "'$*<TAB>': $(echo $got)"
}
expect view ls info dis tree remap edit doctor scan help -- ptview ""
expect remap -- ptview rem
expect --to --map --only --in-place --output --force -- ptview remap --
expect --cast --custom-device -- ptview edit --c
expect --json -- ptview ls model.pt --j
expect --device -- ptview doctor --d
expect examples/ -- ptview ls exa
expect examples/gpu_checkpoint.pt -- ptview doctor examples/gpu
EOF
  )
  bash --norc --noprofile -c "$script" bash "$1" "$WORK" "$ROOT"
}
bash_completion_loader_finds() { # PATH: bash-completion loads ptview's completion on demand
  env -i HOME="$USER_HOME" PATH="$1" bash --norc --noprofile -c '
    source /usr/share/bash-completion/bash_completion
    __load_completion ptview && complete -p ptview'
}
zsh_reads() { # FILE
  command -v zsh >/dev/null || { echo "zsh is not installed"; return 1; }
  zsh -n "$1" && grep -q '^#compdef ptview' "$1"
}
fish_completes() { # FILE
  command -v fish >/dev/null || { echo "fish is not installed"; return 1; }
  fish --no-execute "$1" || return 1
  local got
  got=$(fish --no-config -c "source $1; complete -C 'ptview remap --'")
  echo "$got"
  grep -q '^--to' <<<"$got" && grep -q '^--map' <<<"$got"
}

echo "--- setup.sh into a user prefix ($PREFIX)"
check "setup.sh --no-open --prefix installs" \
  env HOME="$USER_HOME" bash Scripts/setup.sh --no-open --prefix "$PREFIX"
bin="$PREFIX/bin/ptview"
check "the installed binary needs nothing from the toolchain" no_toolchain_libraries "$bin"
check "--version names this checkout's commit" version_is_this_checkout "$bin"
check "it does not link libcurl (opened only to read URLs)" no_libcurl "$bin"
check "it does not link libzip (opened only for compressed records)" no_libzip "$bin"
check "man finds the page from PATH" \
  man_finds "$PREFIX/bin:/usr/bin:/bin" "$PREFIX/share/man/man1/ptview.1"
check "man renders it at 80 columns without warnings" \
  man_renders -l "$PREFIX/share/man/man1/ptview.1"
check "bash completes verbs, flags and file names" \
  bash_completes "$PREFIX/share/bash-completion/completions/ptview"
check "bash-completion finds the completion in ~/.local/share" \
  bash_completion_loader_finds "$PREFIX/bin:/usr/bin:/bin"
check "zsh reads its completion" zsh_reads "$PREFIX/share/zsh/site-functions/_ptview"
check "fish completes flags with its completion" \
  fish_completes "$PREFIX/share/fish/vendor_completions.d/ptview.fish"
check "install.sh --uninstall removes what setup installed" bash -c '
  bash Scripts/install.sh --uninstall --prefix "$1" && [ -z "$(find "$1" -type f)" ]' \
  bash "$PREFIX"

echo "--- package.sh, then dpkg -i and dpkg --purge"
if [ "$(id -u)" -ne 0 ]; then
  echo "FAIL  installing a Debian package needs root"
  failed=$((failed + 1))
  finish
fi
if dpkg-query -W -f='${Status}' ptview 2>/dev/null | grep -q installed || [ -e /usr/bin/ptview ]; then
  echo "FAIL  a ptview package or /usr/bin/ptview is already here; not replacing it"
  failed=$((failed + 1))
  finish
fi
check "package.sh builds the .deb" bash Scripts/package.sh --output-dir "$WORK/dist"
deb=$(ls "$WORK"/dist/ptview_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || finish
version=$(.build/release/ptview --version | awk '{ print $2 }')
check "it is named ptview_<version>_<arch>.deb, <version> from ptview --version" \
  test "$(basename "$deb")" = "ptview_${version}_$(dpkg --print-architecture).deb"

# The packages that Depends: names, and everything they depend on in turn (what dpkg installs).
depends=$(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed 's/(.*)//; s/ //g' | sed '/^$/d')
closure() {
  local -A seen=()
  local queue=("$@") package
  while ((${#queue[@]})); do
    package=${queue[0]%%:*}
    queue=("${queue[@]:1}")
    [ -n "${seen[$package]:-}" ] && continue
    seen[$package]=1
    queue+=($(dpkg-query -W -f='${Depends},${Pre-Depends}' "$package" 2>/dev/null |
      tr ',|' '\n\n' | sed 's/(.*)//; s/ //g; s/:any$//' | sed '/^$/d'))
  done
  printf '%s\n' "${!seen[@]}"
}
owner() { # LIBRARY_PATH: the package that ships it (merged /usr: try both spellings)
  local path package
  for path in "$1" "/usr$1" "${1#/usr}"; do
    package=$(dpkg -S "$path" 2>/dev/null | head -1 | cut -d: -f1)
    [ -n "$package" ] && echo "$package" && return 0
  done
  return 1
}
libraries_come_from_depends() {
  dpkg-deb -x "$deb" "$WORK/unpacked"
  local binary="$WORK/unpacked/usr/bin/ptview" all direct line soname path package
  all=$(closure $depends)
  echo "Depends: $(echo $depends)"
  direct=$(readelf -d "$binary" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p')
  ldd "$binary" >"$WORK/ldd.txt" || return 1
  if grep -e /opt/swift -e 'not found' "$WORK/ldd.txt"; then return 1; fi
  while read -r line; do
    case $line in
      *' => '*) soname=${line%% =>*} path=${line#*=> } path=${path%% (*} ;;
      /*) path=${line%% (*} soname=$(basename "$path") ;;
      *) continue ;; # linux-vdso: in the kernel
    esac
    package=$(owner "$path") || { echo "$path ($soname) belongs to no package"; return 1; }
    if grep -qxF "$soname" <<<"$direct"; then
      grep -qxF "$package" <<<"$depends" ||
        { echo "$soname, linked directly, is from $package, not in Depends"; return 1; }
      echo "$soname: $package (in Depends)"
    else
      grep -qxF "$package" <<<"$all" ||
        { echo "$soname is from $package, which nothing in Depends needs"; return 1; }
      echo "$soname: $package (needed by Depends)"
    fi
  done <"$WORK/ldd.txt"
}
check "its binary needs only libraries from Depends (none from /opt/swift)" \
  libraries_come_from_depends
check "it recommends libcurl4 (opened with dlopen for URLs)" \
  test "$(dpkg-deb -f "$deb" Recommends)" = libcurl4
check "it depends on libzip4 (opened with dlopen for compressed records)" \
  grep -qx libzip4 <<<"$depends"
installed_package=true
check "dpkg -i installs it" dpkg -i "$deb"
check "ptview --version (bare environment)" version_is_this_checkout /usr/bin/ptview
ls_example() {
  env -i PATH=/usr/bin:/bin /usr/bin/ptview ls "$EXAMPLE" >"$WORK/ls.txt" || return 1
  head -3 "$WORK/ls.txt"
  head -1 "$WORK/ls.txt" | grep -q '^KEY' && grep -q 'cuda:0' "$WORK/ls.txt" &&
    [ "$(wc -l <"$WORK/ls.txt")" -gt 100 ]
}
check "ptview ls examples/gpu_checkpoint.pt" ls_example
scan_deflated() { # the packaged binary opens libzip from Depends to inflate a deflated record
  env -i PATH=/usr/bin:/bin /usr/bin/ptview scan \
    "$ROOT/Tests/Fixtures/security/extra/nested_zip_deflated.zip" >"$WORK/scan.txt"
  cat "$WORK/scan.txt"
  grep -q "os.system('id')" "$WORK/scan.txt"
}
check "ptview scan inflates a deflated zip record (libzip4 from Depends)" scan_deflated
check "man ptview finds the packaged page" \
  man_finds /usr/bin:/bin /usr/share/man/man1/ptview.1.gz
check "man ptview renders it without warnings" man_renders ptview
check "bash completion from /usr/share/bash-completion" \
  bash_completes /usr/share/bash-completion/completions/ptview
check "bash-completion loads it for ptview" bash_completion_loader_finds /usr/bin:/bin
check "zsh reads vendor-completions/_ptview" zsh_reads /usr/share/zsh/vendor-completions/_ptview
check "fish completes with vendor_completions.d/ptview.fish" \
  fish_completes /usr/share/fish/vendor_completions.d/ptview.fish
purge() {
  local files
  files=$(dpkg -L ptview | while read -r f; do [ -f "$f" ] && echo "$f"; done)
  echo "$files"
  dpkg --purge ptview || return 1
  installed_package=false
  ! dpkg-query -W -f='${Status}' ptview 2>/dev/null | grep -q installed || return 1
  for f in $files; do [ ! -e "$f" ] || { echo "$f is still there"; return 1; }; done
}
check "dpkg --purge removes every file again" purge
finish
