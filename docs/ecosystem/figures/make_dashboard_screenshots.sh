#!/usr/bin/env bash
# Regenerate dashboard.png and dashboard-trial.png (needs Debian's `chromium` package).
# Usage: bash docs/ecosystem/figures/make_dashboard_screenshots.sh   (from the repository root)
set -euo pipefail
PY=${PY:-.venv/bin/python}
OUT=docs/ecosystem/figures
WORK=$(mktemp -d)
PORT=${PORT:-18765}
"$PY" examples/dashboard.py --n-trials 40 --db "$WORK/demo.db" --seed 0
"$(dirname "$PY")/optuna-dashboard" "sqlite:///$WORK/demo.db" --host 127.0.0.1 --port "$PORT" \
    >"$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER; rm -rf "$WORK"' EXIT
sleep 4
shot() {  # shot URL-PATH FILE
    chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$(mktemp -d -p "$WORK")" --virtual-time-budget=15000 \
        --window-size=1400,900 --screenshot="$2" "http://127.0.0.1:$PORT$1"
}
shot /dashboard/studies/1 "$OUT/dashboard.png"
# the first phase-2 trial of the demo study
FIRST_PHASE2=$("$PY" -c "
import optuna
s = optuna.load_study(study_name='tba-dashboard-demo', storage='sqlite:///$WORK/demo.db')
print(min(t.number for t in s.trials if t.user_attrs.get('tba_phase') == 'phase2'))")
shot "/dashboard/studies/1/trials?numbers=$FIRST_PHASE2" "$OUT/dashboard-trial.png"
