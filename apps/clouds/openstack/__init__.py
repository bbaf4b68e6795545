"""The OpenStack driver: openstacksdk for Nova, Neutron, Glance, Cinder, Magnum;
Blazar's REST API on the same keystoneauth session."""
