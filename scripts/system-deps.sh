#!/usr/bin/env bash
# Check (and where permitted, install) the system packages DeepRock Studio needs:
#   fluidsynth          MIDI -> WAV rendering (deeprock/music/audio.py calls the binary)
#   a GM soundfont      FluidR3_GM (fluid-soundfont-gm) or any *.sf2 already installed
#   /usr/bin/chromium   the browser the Playwright tests drive
#   pythonX.Y-venv      only when .venv does not exist yet and Debian's python lacks ensurepip
#
# Installs with apt-get when running as root or when `sudo -n true` works; otherwise prints the
# command to run and exits 0 (audio rendering is disabled, browser tests skip).
# Under CI=true a missing dependency that cannot be installed is an error (exit 1).
# Quick and silent-ish when everything is present: one line per dependency.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"

SF2_DIRS=(/usr/share/sounds/sf2 /usr/share/soundfonts)
SF2_PREFERRED=/usr/share/sounds/sf2/FluidR3_GM.sf2
CHROMIUM=/usr/bin/chromium

is_ci() {
    case "${CI:-}" in
        [Tt][Rr][Uu][Ee] | 1 | [Yy][Ee][Ss]) return 0 ;;
        *) return 1 ;;
    esac
}

find_soundfont() {
    if [[ -f "$SF2_PREFERRED" ]]; then
        printf '%s\n' "$SF2_PREFERRED"
        return 0
    fi
    local dir found
    for dir in "${SF2_DIRS[@]}"; do
        [[ -d "$dir" ]] || continue
        # -L: follow the alternatives symlinks (default.sf2); -type f drops broken ones.
        found="$(find -L "$dir" -type f -iname '*.sf2' -print -quit 2>/dev/null || true)"
        if [[ -n "$found" ]]; then
            printf '%s\n' "$found"
            return 0
        fi
    done
    return 1
}

# The interpreter the Makefile would use for .venv (same rule: python3.11 first).
pick_python() {
    if [[ -n "${PYTHON:-}" ]]; then
        printf '%s\n' "$PYTHON"
    elif command -v python3.11 >/dev/null 2>&1; then
        command -v python3.11
    elif command -v python3 >/dev/null 2>&1; then
        command -v python3
    fi
}

missing_pkgs=()   # apt packages to install
missing_what=()   # human description of what is disabled without them

check_fluidsynth() {
    local path
    if path="$(command -v fluidsynth 2>/dev/null)"; then
        echo "fluidsynth: found $path"
        return 0
    fi
    return 1
}

check_soundfont() {
    local sf
    if sf="$(find_soundfont)"; then
        echo "soundfont: found $sf"
        return 0
    fi
    return 1
}

check_chromium() {
    if [[ -x "$CHROMIUM" ]]; then
        echo "chromium: found $CHROMIUM"
        return 0
    fi
    return 1
}

# Only relevant before .venv exists: Debian splits ensurepip into pythonX.Y-venv.
venv_pkg=""
check_venv() {
    [[ -x "$REPO_ROOT/.venv/bin/python" ]] && return 0
    local py
    py="$(pick_python)"
    [[ -n "$py" ]] || return 0   # the Makefile reports a missing Python itself
    if "$py" -c 'import ensurepip, venv' >/dev/null 2>&1; then
        echo "python venv: found ($py)"
        return 0
    fi
    local real ver
    real="$(readlink -f "$(command -v "$py")" 2>/dev/null || true)"
    ver="$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true)"
    if [[ "$real" == /usr/bin/* && -n "$ver" ]]; then
        venv_pkg="python${ver}-venv"
        return 1
    fi
    echo "python venv: $py has no ensurepip and is not Debian's python; install its venv support" >&2
    return 0
}

check_fluidsynth || { missing_pkgs+=(fluidsynth); missing_what+=("audio rendering (fluidsynth)"); }
check_soundfont || { missing_pkgs+=(fluid-soundfont-gm); missing_what+=("audio rendering (GM soundfont)"); }
check_chromium || { missing_pkgs+=(chromium); missing_what+=("browser tests will skip (chromium)"); }
check_venv || { missing_pkgs+=("$venv_pkg"); missing_what+=("creating .venv ($venv_pkg)"); }

if [[ ${#missing_pkgs[@]} -eq 0 ]]; then
    exit 0
fi

APT_UPDATE=(apt-get -q -o DPkg::Lock::Timeout=120 update)
APT_INSTALL=(env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=120 install -y
    --no-install-recommends "${missing_pkgs[@]}")
HINT="sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing_pkgs[*]}"

cannot_install() {
    # $1: why
    echo "system-deps: missing: ${missing_pkgs[*]} ($1)" >&2
    echo "system-deps: to install them run:" >&2
    echo "    $HINT" >&2
    local w
    for w in "${missing_what[@]}"; do
        echo "system-deps: disabled until then: $w" >&2
    done
    if is_ci; then
        echo "system-deps: CI=true, the tests need these packages: failing" >&2
        exit 1
    fi
    exit 0
}

SUDO=()
if [[ "$(id -u)" -eq 0 ]]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1; then
    SUDO=(sudo -n)
else
    cannot_install "not root and no password-less sudo"
fi
command -v apt-get >/dev/null 2>&1 || cannot_install "apt-get not available"

echo "system-deps: installing ${missing_pkgs[*]} ..."
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! "${SUDO[@]}" "${APT_UPDATE[@]}" >"$log" 2>&1 \
    || ! "${SUDO[@]}" "${APT_INSTALL[@]}" </dev/null >>"$log" 2>&1; then
    tail -n 20 "$log" >&2
    cannot_install "apt-get failed"
fi

# Re-check and report what was installed.
pkg_version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo "?"; }
failed=0
for pkg in "${missing_pkgs[@]}"; do
    case "$pkg" in
        fluidsynth)
            if p="$(command -v fluidsynth)"; then
                echo "fluidsynth: installed $p ($pkg $(pkg_version "$pkg"))"
            else failed=1; fi ;;
        fluid-soundfont-gm)
            if sf="$(find_soundfont)"; then
                echo "soundfont: installed $sf ($pkg $(pkg_version "$pkg"))"
            else failed=1; fi ;;
        chromium)
            if [[ -x "$CHROMIUM" ]]; then
                echo "chromium: installed $CHROMIUM ($pkg $(pkg_version "$pkg"))"
            else failed=1; fi ;;
        *)
            echo "$pkg: installed ($(pkg_version "$pkg"))" ;;
    esac
done
if [[ $failed -ne 0 ]]; then
    cannot_install "installed, but still not found"
fi
