"""The shared resource layer: what every app whose rows stand for things on a cloud
(machines, external IPs, volumes, firewall rules; next platforms, clusters, leases) uses
as it is. Plain functions and small classes, one module per part:

- `models`: `CloudResource`, the abstract row base (tenancy, cloud id, who and when,
  `external`, `task`, `observed_at`) with its one-row-per-cloud-id constraint.
- `services`: the lifecycle of a row, for services and jobs: `row_create` and `row_act`
  (lock, refuse if busy, check, mark the task, start the job: both return `Started(row, job)`),
  `observe` (store what the cloud says, write only what changed), `task_set`, `row_delete`,
  `changed` (tell open pages).
- `jobs`: what job code needs: `job_target`, `clearing_task`, `wait`, the `settle_*` hooks,
  `busy_ids`, `orphans` and one `reconcile(rows, seen, ...)` for every sync hook.
- `api`: `TenancyViewSet`, the API viewset base (tenancy from the URL, selector scoping,
  202 + job + `Location`).

docs/adding-a-resource.md shows them used, step by step.
"""
