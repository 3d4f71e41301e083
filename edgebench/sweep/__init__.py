"""sweep: the plan, preflight checks, the sweep session, runner, worker process, timing and the `sweep` command."""
