#!/usr/bin/env bash
# A single-node Slurm on this machine (munged, slurmctld, slurmd, all on localhost), the
# fleet sbatch script submitted to it as a two-task job at smoke scale, and both tasks'
# result files checked. Everything it starts it stops; its state lives under one temp dir.
# KEEP=1 leaves that dir (logs, results) for a post-mortem.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bin=${HALBENCH:-$root/target/release/halbench}
[ -x "$bin" ] || cargo build --release -q -p halbench
need=()
command -v munged >/dev/null || need+=(munge)
command -v slurmctld >/dev/null || need+=(slurmctld)
command -v slurmd >/dev/null || need+=(slurmd)
command -v sbatch >/dev/null || need+=(slurm-client)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

state=$(mktemp -d /tmp/halbench-slurm.XXXXXX)
chmod 755 "$state"
conf="$state/slurm.conf"
node=$(hostname -s)
cpus=$(nproc)
mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 / 2 ))
mkdir -p "$state"/{spool,ctld,munge,log,run,results}
cat > "$conf" <<CONF
ClusterName=halbench-ci
SlurmctldHost=$node
SlurmctldPort=16817
SlurmdPort=16818
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/spool
SlurmctldPidFile=$state/run/slurmctld.pid
SlurmdPidFile=$state/run/slurmd.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd.log
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
NodeName=$node CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=ci Nodes=$node Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
export SLURM_CONF="$conf"

cleanup() {
  local pid
  for f in slurmd slurmctld munged; do
    pid=$(cat "$state/run/$f.pid" 2>/dev/null || true)
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  done
  sleep 1
  [ -n "${KEEP:-}" ] || rm -rf "$state"
}
trap cleanup EXIT
dump() { tail -n 30 "$state"/log/*.log >&2 || true; scontrol show job >&2 2>/dev/null || true; }

dd if=/dev/urandom of="$state/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$state/munge/munge.key"
munged --force --key-file="$state/munge/munge.key" --socket="$state/munge/socket" \
  --pid-file="$state/run/munged.pid" --log-file="$state/log/munged.log" --seed-file="$state/munge/seed"
# Slurm's munge plugin finds the socket through its own setting.
echo "AuthInfo=socket=$state/munge/socket" >> "$conf"
slurmctld -f "$conf" || { dump; exit 1; }
slurmd -f "$conf" || { dump; exit 1; }
for _ in $(seq 60); do
  sinfo -h -o %T 2>/dev/null | grep -qE '^idle' && break
  sleep 1
done
sinfo -h -o %T | grep -qE '^idle' || { echo "slurm node never became idle" >&2; sinfo >&2 || true; dump; exit 1; }

start=$(date +%s)
job=$(HALBENCH="$bin" HALBENCH_RESULTS="$state/results" HALBENCH_ARGS="--scale smoke --backend cpu --workload stream.* --progress off" \
  sbatch --parsable --export=ALL --time=10 --nodes=1 --ntasks=2 --ntasks-per-node=2 --cpus-per-task=1 \
  --output="$state/log/job-%j.out" deploy/slurm/halbench.sbatch)
echo "submitted job $job"
for _ in $(seq 300); do
  st=$(squeue -h -j "$job" -o %T 2>/dev/null || true)
  [ -z "$st" ] && break
  sleep 1
done
cat "$state"/log/job-*.out || true
files=("$state"/results/*.json)
[ "${#files[@]}" -eq 2 ] && [ -e "${files[0]}" ] || { echo "expected 2 result files, found: ${files[*]}" >&2; dump; exit 1; }
python3 - "$job" "${files[@]}" <<'PY'
import json, sys
job = sys.argv[1]
tasks = set()
for path in sys.argv[2:]:
    d = json.load(open(path))
    s = d["run"].get("scheduler")
    assert s and s["kind"] == "slurm", f"{path}: no Slurm identity: {s}"
    assert s["job_id"] == job, f"{path}: job {s['job_id']} != {job}"
    assert d["results"] and all(r["status"] == "passed" for r in d["results"]), f"{path}: not all passed"
    tasks.add(s["task"])
    print(f"{path}: job {s['job_id']} step {s.get('step_id')} node {s.get('node')} task {s['task']}: {len(d['results'])} passed")
assert tasks == {0, 1}, f"tasks {tasks}"
PY
echo "slurm: two-task job $job passed in $(( $(date +%s) - start )) s"
