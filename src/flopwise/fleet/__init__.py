"""Fleet: an event-driven simulator of a shared AI cluster (`flopwise fleet`).

cluster.py   the cluster file: pools of nodes by accelerator, topology blocks, member groups, levers
jobs.py      one job as read from a trace or generated
traces.py    readers for Helios / Acme (Slurm), Philly, Alibaba PAI and flopwise's own CSV
synthetic.py a workload generator with documented distributions
speedups.py  per-job relative speed on each accelerator (training planner when the job names a model)
placement.py free-GPU bookkeeping per pool: nodes, contiguous or reconfigurable blocks
simulator.py the event loop (a heap of events) and what a policy may ask of it
policies/    one file per scheduling policy
metrics.py   typed results: JCT, queueing delay, utilization, fragmentation, fairness, time series
plot.py      utilization and queue length over time (Plotly)
queueing.py  closed-form queueing results the simulator is checked against
"""

from flopwise.fleet.cluster import ClusterSpec, load_cluster
from flopwise.fleet.jobs import Job
from flopwise.fleet.simulator import simulate

__all__ = ["ClusterSpec", "Job", "load_cluster", "simulate"]
