#!/usr/bin/env bash
# Sets ptview up on a Debian machine with the Swift 6.3 toolchain: installs the C libraries it
# links (libzip, ncursesw) when they are missing, builds a release binary with the Swift runtime
# linked in, installs it with its man page and bash, zsh and fish completions, and opens the
# explorer on the bundled example checkpoint (a model saved on a GPU: cuda:0 tensors).
#
#   bash Scripts/setup.sh                    # install under /usr/local, open the example
#   bash Scripts/setup.sh --prefix ~/.local  # install for this user only (no root needed)
#   bash Scripts/setup.sh --no-install       # build only: .build/release/ptview
#   bash Scripts/setup.sh --no-open          # do not open the explorer at the end
#
# Remove an install with `bash Scripts/install.sh --uninstall --prefix DIR`.
set -euo pipefail
cd "$(dirname "$0")/.."

open=true install=true prefix=/usr/local
while (($#)); do
  case $1 in
    --no-open) open=false; shift ;;
    --no-install) install=false; shift ;;
    --prefix) prefix=${2:?--prefix needs a folder}; shift 2 ;;
    --prefix=*) prefix=${1#--prefix=}; shift ;;
    -h | --help) sed -n '2,12s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) echo "setup: unknown argument '$1' (try --help)" >&2; exit 64 ;;
  esac
done
case $prefix in /*) ;; *) prefix="$(pwd)/$prefix" ;; esac
prefix=${prefix%/}

# Debian packages ptview needs to build and run (pkg-config finds libzip; libcurl4 is opened
# only to read URLs, the build does not link it), and to use it as
# installed: man to read its page, bash-completion to load its completion when bash starts.
source Scripts/apt_packages.sh
packages=(libzip-dev libncursesw5-dev pkg-config libcurl4)
$install && packages+=(man-db bash-completion)
ensure_packages "${packages[@]}"

source Scripts/release_build.sh
release_build
echo "setup: built $(pwd)/.build/release/ptview: $("$RELEASE_BIN/ptview" --version)"

if $install; then
  echo "setup: installing under $prefix:"
  bash Scripts/install.sh --prefix "$prefix" --binary "$RELEASE_BIN/ptview" \
    --manual-tool "$RELEASE_BIN/generate-manual"
  # What a new shell needs to find them, said only where it is missing.
  notes=()
  case ":$PATH:" in
    *":$prefix/bin:"*) ;;
    *) notes+=("add $prefix/bin to PATH, in ~/.bashrc or ~/.zshrc: export PATH=\"$prefix/bin:\$PATH\"") ;;
  esac
  case $prefix/share in
    # Where bash-completion looks (bash-completion 2.11, Debian 12, does not look beside the binary).
    /usr/local/share | /usr/share | "${XDG_DATA_HOME:-$HOME/.local/share}")
      grep -qs '^[^#]*bash_completion' ~/.bashrc /etc/bash.bashrc ||
        notes+=("bash completes ptview in login shells (bash -l, ssh); for every bash, add to ~/.bashrc: . /usr/share/bash-completion/bash_completion") ;;
    *) notes+=("for bash, add to ~/.bashrc: . $prefix/share/bash-completion/completions/ptview") ;;
  esac
  if command -v zsh >/dev/null &&
    ! zsh -fc '(( ${fpath[(Ie)$1]} ))' zsh "$prefix/share/zsh/site-functions"; then
    notes+=("for zsh, add to ~/.zshrc before compinit: fpath=($prefix/share/zsh/site-functions \$fpath)")
  fi
  if command -v fish >/dev/null && ! fish --no-config -c 'contains -- $argv[1] $fish_complete_path' \
    "$prefix/share/fish/vendor_completions.d"; then
    notes+=("for fish: mkdir -p ~/.config/fish/completions && ln -sf $prefix/share/fish/vendor_completions.d/ptview.fish ~/.config/fish/completions/")
  fi
  ((${#notes[@]} == 0)) || printf 'setup: %s\n' "${notes[@]}"
  echo "setup: try \`ptview --help\`, \`man ptview\`, and \`ptview <TAB>\` in a new shell"
fi

if $open; then
  exec "$RELEASE_BIN/ptview" examples/gpu_checkpoint.pt
fi
