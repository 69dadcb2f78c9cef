#!/bin/bash
# Every recorded result of the book, one training at a time, in order: the Section 3.6 suggestions
# (object, boundary, superpixel: three seeds), the full Section 3.6 record (adds the extreme-ratio
# pair, which are sweep points), then the sweep (chapter 09's paper profile). Each stage resumes from
# the run cache, so the script can be stopped and started again at any time; it stops at the first
# failure instead of starting the next stage beside a broken one. About 13 hours on 2 CPU cores in all;
# a stage started again never writes over a record holding more than it has done (recorded.target).
#
#     nohup benchmarks/record_all.sh > runs/record_all.log 2>&1 &
#     pkill -STOP -f 'benchmarks/(section36|sweep)_record.py'   # pause for other CPU work, -CONT to go on
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
mkdir -p runs
step() { echo "[record_all] $(date -u +%FT%TZ) $*"; }
# A complete, current Section 3.6 record is not computed again (the run cache that would make that
# free may be gone: a new session's checkout starts without one).
s36_done() {
  $PY -c "import sys; from mae_hlvm.book import chapter_params; from mae_hlvm.experiments import section36 as s
r = s.load_recorded('book/recorded/section36_cpu.json')
sys.exit(0 if r.current and r.params == chapter_params('10_section36', 'paper') and len(r.frame()) >= len(r.params.runs()) else 1)" 2>/dev/null
}
if s36_done; then
  step "Section 3.6: the record is complete and current, not computed again"
else
  step "Section 3.6, three suggestions"
  $PY benchmarks/section36_record.py --suggestions object boundary superpixel || { step "failed"; exit 1; }
  step "Section 3.6, all four suggestions"
  $PY benchmarks/section36_record.py || { step "failed"; exit 1; }
fi
step "the sweep"
$PY benchmarks/sweep_record.py || { step "failed"; exit 1; }
step "done"
