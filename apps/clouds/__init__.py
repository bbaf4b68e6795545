"""The cloud driver layer: everything Atrium does to a cloud goes through here.

`driver_for_tenancy(tenancy)` (apps.clouds.registry) gives the driver bound to a
tenancy's project; its methods take and return the frozen dataclasses of
`apps.clouds.dto` and raise the errors of `apps.clouds.errors`.
"""
