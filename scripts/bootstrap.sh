# Sourced by the quick-start scripts: create .venv/ in the repo root on first use and
# (re)install the package whenever pyproject.toml changes. Safe to run again and again.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PYTHON="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/python" ]; then
    echo "setting up $VENV" >&2
    "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.digest-installed"
want="$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] || [ ! -x "$VENV/bin/digest" ]; then
    echo "installing digest and its dependencies into $VENV" >&2
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip 2>&1 \
        | grep -v '^WARNING: Location' >&2 || true
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$ROOT[dev]" 2>&1 \
        | grep -v '^WARNING: Location' >&2 || true
    "$VENV/bin/digest" --version >/dev/null  # fails loudly if the install did not work
    echo "$want" > "$stamp"
fi
export PATH="$VENV/bin:$PATH"
cd "$ROOT"
