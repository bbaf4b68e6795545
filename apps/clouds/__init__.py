"""The cloud driver layer: everything Atrium does to a cloud goes through here.

`driver_for_tenancy(tenancy, user=...)` (apps.clouds.registry) gives the driver
bound to a tenancy's project, acting for `user` where the cloud uses per-user
federation; its methods take and return the frozen dataclasses of
`apps.clouds.dto` and raise the errors of `apps.clouds.errors`.
"""
