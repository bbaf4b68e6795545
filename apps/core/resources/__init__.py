"""The shared resource layer: what every app whose rows stand for things on a cloud
(machines, external IPs, volumes, firewall rules; next platforms, clusters, leases) uses
as it is. Plain functions and small classes, one module per part:

- `models`: `CloudResource`, the abstract row base (tenancy, cloud id, who and when,
  `external`, `task`, `observed_at`) with its one-row-per-cloud-id constraint.
- `selectors`: `tenancy_rows` (a tenancy's rows, 404 unless the user's) and `row_get`.
- `services`: the lifecycle of a row, for services and jobs: `row_create` and `row_act`
  (lock, refuse if busy, check, mark the task, start the job: both return `Started(row, job)`),
  `observe` (store what the cloud says, write only what changed), `task_set`, `row_delete`,
  `changed` (tell open pages).
- `jobs`: what job code needs: `job_row`, `clearing_task`, `wait`, `cloud_delete`, the
  `settle_*` hooks and `follow_up`, `busy_ids`, `orphans`, and one `reconcile(rows, seen, ...)`
  (with `reconcile_tenancy` around it) for every sync hook.
- `api`: `TenancyViewSet`, the API viewset base (tenancy from the URL, selector scoping,
  202 + job + `Location`), `accepted_serializer`, `tenancy_routes`, `created_example`.
- `pages`: `list_page`, a tenancy's HTML list page (paginated, new rows live on page one).

docs/adding-a-resource.md shows them used, step by step.
"""
