#!/bin/bash
# Atrium's copy of the team's reference rig (../shared/peers/openstack/up.sh), used by .ci/run and
# `make test-openstack` to prove the OpenStack driver against real services. Changes from the reference:
#  - the rig's RabbitMQ gets a config file of its own (this machine's /etc/rabbitmq/rabbitmq.conf pins 5672);
#  - Keystone allows trusts for application-credential tokens, which Blazar needs to create a lease when
#    Atrium authenticates with a project's application credential (as it does in production);
#  - state defaults to /tmp/atrium-osrig, so it never collides with a rig started from the reference;
#  - Keystone runs 4 single-threaded processes instead of 1 process of 4 threads (see start_uwsgi keystone);
#  - Blazar also runs its instance-reservation plugin (virtual.instance.plugin), so both kinds of lease
#    (whole hosts and instances of a size) are proven.
# Mini OpenStack (2026.2: keystone 30, placement 16, glance 33, neutron 29, nova 34 fake driver, blazar 18)
# on one machine, everything on 127.0.0.1, all state under $OSRIG_DIR (default /tmp/osrig). Idempotent: re-run to (re)start.
# Usage: [OSRIG_DIR=DIR] bash up.sh      (stop with down.sh; wipe with down.sh --purge)
#        ALL_MYSQL=1 bash up.sh      (every service on MariaDB instead of PostgreSQL+MariaDB)
# Ports (127.0.0.1): keystone 5000, placement 8778, glance 9292, neutron 9696, nova 8774, blazar 1234,
#   own PostgreSQL 5433, own MariaDB 3307, own RabbitMQ 5673 (epmd 4370). clouds.yaml: $OSRIG_DIR/clouds.yaml
#   (clouds 'admin' admin/admin and 'demo' demo/demo). Hypervisors: osrig-compute1 (normal),
#   osrig-compute2 (Blazar freepool). Re-running while up regenerates configs but restarts nothing.
set -euo pipefail
T_START=$(date +%s.%N)
R=${OSRIG_DIR:-/tmp/atrium-osrig}; export OSRIG_DIR=$R; V=$R/venv; ETC=$R/etc; LOG=$R/log; RUN=$R/run; DATA=$R/data
H=127.0.0.1
PG_PORT=5433; MY_PORT=3307; RMQ_PORT=5673
PG_URL="postgresql+psycopg2://os:os@$H:$PG_PORT"
MY_URL="mysql+pymysql://os:os@$H:$MY_PORT"
# Per-service DB: PostgreSQL works for keystone/placement/glance/nova; neutron 29 and blazar 18
# migrations fail on PostgreSQL, so they use MariaDB. Set ALL_MYSQL=1 to put everything on MariaDB.
if [ "${ALL_MYSQL:-0}" = 1 ]; then PG_URL=$MY_URL; fi
RABBIT="rabbit://guest:guest@$H:$RMQ_PORT/"
SVC_PW=service
PGBIN=/usr/lib/postgresql/15/bin
mkdir -p $ETC $LOG $RUN $DATA
chmod 755 $R
ts() { date +%s.%N; }
log() { echo "[$(date +%H:%M:%S)] $*"; }
since() { echo "$(ts) - $1" | bc | xargs printf '%.1f'; }
alive() { [ -f "$RUN/$1.pid" ] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }
wait_port() { local i; for i in $(seq 1 "${2:-120}"); do (echo > /dev/tcp/$H/$1) 2>/dev/null && return 0; sleep 0.5; done; echo "port $1 not up" >&2; return 1; }
wait_http() { local i; for i in $(seq 1 "${2:-120}"); do curl -s -o /dev/null -m 5 "$1" && return 0; sleep 0.5; done; echo "$1 not up" >&2; return 1; }
start_bg() { local name=$1; shift
  if alive "$name"; then log "$name already running (pid $(cat $RUN/$name.pid))"; return 0; fi
  setsid "$@" >>"$LOG/$name.out" 2>&1 < /dev/null &
  echo $! > "$RUN/$name.pid"; log "started $name pid $!"; }
start_uwsgi() { local name=$1 port=$2 module=$3; shift 3
  start_bg "$name" env "$@" $V/bin/uwsgi --http-socket $H:$port --module "$module" \
    --master --processes "${PROCS:-1}" --threads "${THREADS:-4}" --lazy-apps --enable-threads --die-on-term --need-app \
    --buffer-size 65535 --http-chunked-input --http-auto-chunked --http-raw-body \
    --chunked-input-limit 4096000 --add-header "Connection: close" --procname-prefix "$name "; }
authtoken() { cat <<EOT
[keystone_authtoken]
www_authenticate_uri = http://$H:5000/v3
auth_url = http://$H:5000/v3
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = $1
password = $SVC_PW
service_token_roles_required = true
EOT
}
svcauth() { cat <<EOT
[$1]
auth_url = http://$H:5000/v3
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = $2
password = $SVC_PW
region_name = RegionOne
EOT
}

############ 1. install (skipped when already installed) ############
T0=$(ts)
need_apt=""
command -v rabbitmq-server >/dev/null || need_apt="$need_apt rabbitmq-server"
[ -x /usr/sbin/mariadbd ] || need_apt="$need_apt mariadb-server"
[ -x $PGBIN/postgres ] || need_apt="$need_apt postgresql-15"
if [ -n "$need_apt" ]; then
  log "apt-get install$need_apt"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need_apt >/dev/null
fi
if [ ! -x $V/bin/nova-compute ] || [ ! -f $V/.osrig-installed ]; then
  log "creating venv + pip install (takes ~1.5 min)"
  python3 -m venv $V
  cat > $R/constraints.txt <<'EOF'
alembic==1.20.1
amqp==5.4.2
aniso8601==10.0.1
attrs==26.1.0
automaton==3.5.0
autopage==0.6.0
bcrypt==5.0.0
blazar==18.0.0
blinker==1.9.0
cachetools==8.0.1
castellan==5.8.0
certifi==2026.10.18
cffi==2.1.1
charset-normalizer==3.5.2
click==8.5.1
cliff==4.17.0
cmd2==4.3.1
cotyledon==2.2.0
cryptography==50.0.2
cursive==0.3.1
debtcollector==3.1.0
decorator==5.3.1
defusedxml==0.7.1
dnspython==2.9.2
dogpile.cache==1.5.0
elementpath==4.8.0
eventlet==0.41.3
fasteners==0.20
fixtures==4.3.2
Flask==3.1.3
Flask-RESTful==0.3.10
futurist==3.5.0
glance==33.0.0
glance_store==5.7.0
greenlet==3.5.6
httplib2==0.32.1
idna==3.20
importlib_metadata==10.2.0
invoke==3.0.3
iso8601==2.1.0
itsdangerous==2.2.0
Jinja2==3.1.6
jmespath==1.1.0
jsonpatch==1.47
jsonpointer==3.12
jsonschema==4.26.0
jsonschema-specifications==2025.9.1
jwcrypto==1.6.1
keystone==30.0.0
keystoneauth1==5.18.1
keystonemiddleware==13.0.1
kombu==5.7.0
lazy-importer==0.1.0
lxml==6.1.3
Mako==1.4.3
markdown-it-py==4.3.0
MarkupSafe==3.0.4
mdurl==0.1.2
microversion_parse==2.1.0
msgpack==1.2.4
ncclient==0.7.1
netaddr==1.3.0
networkx==3.6.1
neutron==29.0.0
neutron-lib==5.0.1
nova==34.0.0
numpy==2.4.6
oauthlib==4.0.1
openstack-placement==16.0.0
openstacksdk==4.22.0
os-brick==7.1.1
os-ken==4.2.2
os-resource-classes==1.1.0
os-service-types==1.9.0
os-traits==3.9.0
os_vif==5.3.0
osc-lib==4.7.0
oslo.cache==4.3.0
oslo.concurrency==7.6.1
oslo.config==10.7.0
oslo.context==6.5.0
oslo.db==18.1.1
oslo.i18n==6.9.0
oslo.limit==2.12.0
oslo.log==8.3.2
oslo.messaging==18.3.1
oslo.metrics==0.17.0
oslo.middleware==8.2.0
oslo.policy==6.0.1
oslo.privsep==3.12.0
oslo.reports==3.9.0
oslo.rootwrap==7.10.0
oslo.serialization==5.11.0
oslo.service==4.8.0
oslo.upgradecheck==2.8.0
oslo.utils==10.2.0
oslo.versionedobjects==3.12.0
osprofiler==4.4.0
ovs==4.0.0
ovsdbapp==3.0.0
packaging==26.3
paramiko==5.1.0
Paste==3.10.1
PasteDeploy==3.1.0
pbr==7.1.3
pecan==1.8.0
platformdirs==4.14.7
prettytable==3.18.0
prometheus_client==0.26.0
prompt_toolkit==3.0.53
psutil==7.2.2
psycopg2-binary==2.9.13
pycadf==4.1.0
pycparser==3.12
pydot==4.0.1
Pygments==2.21.0
PyJWT==2.15.1
PyMySQL==1.2.4
PyNaCl==1.6.2
pyOpenSSL==26.4.0
pyparsing==3.3.3
pyperclip==1.11.0
pyroute2==0.9.7
pysaml2==7.5.5
python-barbicanclient==7.6.0
python-blazarclient==4.6.0
python-cinderclient==9.10.0
python-dateutil==4.0.0
python-designateclient==7.0.0
python-glanceclient==4.13.0
python-keystoneclient==6.0.0
python-manilaclient==6.3.0
python-neutronclient==14.0.0
python-novaclient==18.13.1
python-openstackclient==10.5.0
pytz==2026.6
PyYAML==6.0.3
redis==8.1.0
referencing==0.37.0
repoze-lru==0.8
requests==2.34.2
retrying==1.4.2
rfc3986==2.0.0
rich==15.0.0
rich-argparse==1.8.0
Routes==2.5.1
rpds-py==2026.9.1
setproctitle==1.3.8
simplegeneric==0.8.1
six==1.17.0
sortedcontainers==2.4.0
SQLAlchemy==2.1.9
statsd==4.0.1
stevedore==5.10.0
taskflow==6.5.0
tenacity==9.2.1
testresources==2.1.2
testscenarios==0.7.0
tooz==9.1.0
typing_extensions==4.16.0
tzdata==2026.6
urllib3==2.8.0
uWSGI==2.0.31
vine==5.1.0
voluptuous==0.16.0
warlock==2.1.0
wcwidth==0.9.4
WebOb==1.8.11
websockify==0.13.0
Werkzeug==3.1.9
wrapt==2.5.2
WSME==0.13.0
xmlschema==2.5.1
yappi==1.7.6
zipp==4.1.2
EOF
  pipi() { $V/bin/pip install "$@" >>$LOG/pip-install.log 2>&1 || { echo "pip install $* failed: see $LOG/pip-install.log"; exit 1; }; }
  pipi -U pip setuptools wheel
  pipi -c $R/constraints.txt keystone==30.0.0 openstack-placement==16.0.0 glance==33.0.0 \
    neutron==29.0.0 nova==34.0.0 blazar==18.0.0 openstacksdk python-openstackclient python-blazarclient \
    uwsgi PyMySQL psycopg2-binary blazar-nova==10.0.0
  # tiny ML2 mechanism driver: binds every port on any host (no L2 agent / OVN needed)
  mkdir -p $R/fakemech
  cat > $R/fakemech/pyproject.toml <<'EOF'
[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"
[project]
name = "osrig-fakemech"
version = "0.1"
[project.entry-points."neutron.ml2.mechanism_drivers"]
osrig_fake = "osrig_fakemech:FakeMechanismDriver"
[tool.setuptools]
py-modules = ["osrig_fakemech"]
EOF
  cat > $R/fakemech/osrig_fakemech.py <<'EOF'
"""ML2 mechanism driver for a test rig: binds every port on any host, no agents."""
from neutron_lib.api.definitions import portbindings
from neutron_lib import constants as const
from neutron_lib.plugins.ml2 import api


class FakeMechanismDriver(api.MechanismDriver):
    def initialize(self):
        pass

    @property
    def connectivity(self):
        return portbindings.CONNECTIVITY_L2

    def bind_port(self, context):
        if context.current.get(portbindings.VNIC_TYPE) not in (
                portbindings.VNIC_NORMAL, None):
            return
        for segment in context.segments_to_bind:
            context.set_binding(
                segment[api.ID], portbindings.VIF_TYPE_OVS,
                {portbindings.CAP_PORT_FILTER: True,
                 portbindings.OVS_HYBRID_PLUG: False},
                status=const.PORT_STATUS_ACTIVE)
            return
EOF
  pipi --no-build-isolation $R/fakemech
  $V/bin/python -W ignore -c "import nova, neutron, keystone, glance, placement, blazar, osrig_fakemech" 2>/dev/null
  touch $V/.osrig-installed
fi
T_INSTALL=$(since $T0)
log "install step: ${T_INSTALL}s"

############ 2. infrastructure: own PostgreSQL, MariaDB, RabbitMQ instances ############
T0=$(ts)
# PostgreSQL 15 cluster of our own (port 5433) so nothing else on the machine can stop it under us
mkdir -p $DATA/pg $LOG/pg; chown postgres: $DATA/pg $LOG/pg; chmod 700 $DATA/pg
if [ ! -f $DATA/pg/PG_VERSION ]; then
  su postgres -c "$PGBIN/initdb -N -D $DATA/pg -A trust -U postgres" >/dev/null
fi
if ! su postgres -c "$PGBIN/pg_ctl -D $DATA/pg status" >/dev/null 2>&1; then
  su postgres -c "$PGBIN/pg_ctl -D $DATA/pg -l $LOG/pg/postgresql.log -w start -o '-p $PG_PORT -k $DATA/pg -c listen_addresses=$H -c max_connections=300 -c fsync=off -c synchronous_commit=off'" >/dev/null
  log "started postgresql pid $(head -1 $DATA/pg/postmaster.pid)"
fi
# MariaDB of our own (port 3307, own datadir)
mkdir -p $DATA/mysql $DATA/mysql-run; chown mysql: $DATA/mysql $DATA/mysql-run
if [ ! -d $DATA/mysql/mysql ]; then
  mariadb-install-db --no-defaults --user=mysql --datadir=$DATA/mysql --auth-root-authentication-method=normal --skip-test-db >/dev/null
fi
start_bg mariadb /usr/sbin/mariadbd --no-defaults --user=mysql --datadir=$DATA/mysql --bind-address=$H \
  --port=$MY_PORT --socket=$DATA/mysql-run/mysqld.sock --pid-file=$DATA/mysql-run/mysqld.pid --max-connections=500 \
  --innodb-flush-log-at-trx-commit=0 --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci
# RabbitMQ node of our own (port 5673, node osrig@localhost)
mkdir -p $DATA/rabbitmq $LOG/rabbitmq; chown rabbitmq: $DATA/rabbitmq $LOG/rabbitmq
export RABBITMQ_NODENAME=osrig@localhost RABBITMQ_NODE_IP_ADDRESS=$H RABBITMQ_NODE_PORT=$RMQ_PORT \
  RABBITMQ_DIST_PORT=25673 ERL_EPMD_ADDRESS=$H RABBITMQ_MNESIA_BASE=$DATA/rabbitmq RABBITMQ_LOG_BASE=$LOG/rabbitmq \
  RABBITMQ_PID_FILE=$DATA/rabbitmq/osrig.pid RABBITMQ_ENABLED_PLUGINS_FILE=$DATA/rabbitmq/enabled_plugins \
  RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
# This machine's /etc/rabbitmq/rabbitmq.conf pins listeners.tcp.local=5672, which wins
# over RABBITMQ_NODE_PORT; give our node a config file of its own.
printf 'listeners.tcp.local = 127.0.0.1:%s\n' $RMQ_PORT > $DATA/rabbitmq/osrig.conf; chown rabbitmq: $DATA/rabbitmq/osrig.conf
export RABBITMQ_CONFIG_FILE=$DATA/rabbitmq/osrig.conf
[ -f $DATA/rabbitmq/enabled_plugins ] || { echo '[].' > $DATA/rabbitmq/enabled_plugins; chown rabbitmq: $DATA/rabbitmq/enabled_plugins; }
# our own epmd on port 4370 (foreground, so its PID is ours to stop), not the shared 4369 one
export ERL_EPMD_PORT=4370
start_bg epmd /usr/bin/epmd -port $ERL_EPMD_PORT -address $H
wait_port $ERL_EPMD_PORT 20
start_bg rabbitmq /usr/sbin/rabbitmq-server
wait_port $MY_PORT 60; wait_port $PG_PORT 60
rabbitmqctl -q wait $DATA/rabbitmq/osrig.pid --timeout 90 >/dev/null
log "infra up in $(since $T0)s"

# databases (idempotent)
PSQL="psql -h $H -p $PG_PORT -U postgres -qtA"
$PSQL -c "SELECT 1 FROM pg_roles WHERE rolname='os'" | grep -q 1 || $PSQL -c "CREATE ROLE os LOGIN PASSWORD 'os'"
for d in keystone placement glance nova_api nova nova_cell0; do
  $PSQL -c "SELECT 1 FROM pg_database WHERE datname='$d'" | grep -q 1 || $PSQL -c "CREATE DATABASE $d OWNER os"
done
mysql -uroot -h$H -P$MY_PORT -e "CREATE USER IF NOT EXISTS 'os'@'%' IDENTIFIED BY 'os'; GRANT ALL ON *.* TO 'os'@'%';
  CREATE DATABASE IF NOT EXISTS neutron; CREATE DATABASE IF NOT EXISTS blazar;
  CREATE DATABASE IF NOT EXISTS keystone; CREATE DATABASE IF NOT EXISTS placement; CREATE DATABASE IF NOT EXISTS glance;
  CREATE DATABASE IF NOT EXISTS nova_api; CREATE DATABASE IF NOT EXISTS nova; CREATE DATABASE IF NOT EXISTS nova_cell0;"

############ 3. configuration files (regenerated on every run) ############
mkdir -p $ETC/{keystone,placement,glance,neutron/plugins/ml2,nova,blazar} $DATA/keystone $DATA/glance/{images,staging,tasks} $DATA/nova/instances
cat > $ETC/keystone/keystone.conf <<EOF
[DEFAULT]
log_file = $LOG/keystone.log
[database]
connection = $PG_URL/keystone
[token]
provider = fernet
[fernet_tokens]
key_repository = $DATA/keystone/fernet-keys
[credential]
key_repository = $DATA/keystone/credential-keys
[auth]
methods = password,token,openid,application_credential,mapped
[openid]
remote_id_attribute = OIDC-iss
[security_compliance]
allow_insecure_application_credential_trust_escalation = true
EOF
{ cat <<EOF
[DEFAULT]
log_file = $LOG/placement.log
[api]
auth_strategy = keystone
[placement_database]
connection = $PG_URL/placement
EOF
authtoken placement; } > $ETC/placement/placement.conf
cp $V/etc/glance/glance-api-paste.ini $ETC/glance/
{ cat <<EOF
[DEFAULT]
log_file = $LOG/glance.log
enabled_backends = fs:file
workers = 1
[database]
connection = $PG_URL/glance
[glance_store]
default_backend = fs
[fs]
filesystem_store_datadir = $DATA/glance/images/
[os_glance_staging_store]
filesystem_store_datadir = $DATA/glance/staging/
[os_glance_tasks_store]
filesystem_store_datadir = $DATA/glance/tasks/
[paste_deploy]
flavor = keystone
[oslo_concurrency]
lock_path = $DATA/glance/locks
EOF
authtoken glance; } > $ETC/glance/glance-api.conf
cp $V/etc/neutron/api-paste.ini $ETC/neutron/
{ cat <<EOF
[DEFAULT]
log_file = $LOG/neutron.log
core_plugin = ml2
service_plugins = router
auth_strategy = keystone
transport_url = $RABBIT
api_paste_config = $ETC/neutron/api-paste.ini
api_workers = 1
rpc_workers = 1
rpc_state_report_workers = 0
dhcp_agent_notification = false
notify_nova_on_port_status_changes = true
notify_nova_on_port_data_changes = true
[database]
connection = $MY_URL/neutron?charset=utf8
[oslo_concurrency]
lock_path = $DATA/neutron/locks
EOF
authtoken neutron; svcauth nova neutron; } > $ETC/neutron/neutron.conf
cat > $ETC/neutron/plugins/ml2/ml2_conf.ini <<EOF
[ml2]
type_drivers = flat,vlan,vxlan
tenant_network_types = vxlan
mechanism_drivers = osrig_fake
extension_drivers = port_security
[ml2_type_flat]
flat_networks = public
[ml2_type_vlan]
network_vlan_ranges = public
[ml2_type_vxlan]
vni_ranges = 1:10000
EOF
cp $V/etc/nova/api-paste.ini $ETC/nova/
{ cat <<EOF
[DEFAULT]
host = osrig-compute1
my_ip = $H
state_path = $DATA/nova
instances_path = $DATA/nova/instances
# FakeDriverWithoutFakeNodes keeps a stable node UUID in state_path/compute_id; plain FakeDriver makes a
# new random node UUID per process, and nova-compute then refuses to start again after a restart
compute_driver = fake.FakeDriverWithoutFakeNodes
graceful_shutdown_timeout = 5
transport_url = $RABBIT
enabled_apis = osapi_compute
osapi_compute_workers = 1
vif_plugging_is_fatal = false
vif_plugging_timeout = 0
[wsgi]
api_paste_config = $ETC/nova/api-paste.ini
[api]
auth_strategy = keystone
[api_database]
connection = $PG_URL/nova_api
[database]
connection = $PG_URL/nova
[conductor]
workers = 1
[scheduler]
workers = 1
discover_hosts_in_cells_interval = 10
[filter_scheduler]
# BlazarFilter (PyPI blazar-nova) keeps hosts of blazar's freepool out of normal scheduling
available_filters = nova.scheduler.filters.all_filters
available_filters = blazarnova.scheduler.filters.blazar_filter.BlazarFilter
enabled_filters = ComputeFilter,ComputeCapabilitiesFilter,ImagePropertiesFilter,ServerGroupAntiAffinityFilter,ServerGroupAffinityFilter,BlazarFilter
[oslo_concurrency]
lock_path = $DATA/nova/locks
[vnc]
enabled = true
server_listen = $H
server_proxyclient_address = $H
novncproxy_base_url = http://$H:6080/vnc_auto.html
EOF
authtoken nova; svcauth placement nova; svcauth neutron nova; svcauth service_user nova
echo "send_service_user_token = true"; } > $ETC/nova/nova.conf
printf "[DEFAULT]\nlog_file = $LOG/nova-api.log\n" > $ETC/nova/nova-api.conf
# second fake hypervisor, reserved for Blazar leases (lease end deletes every server on a reserved host)
printf "[DEFAULT]\nhost = osrig-compute2\nstate_path = $DATA/nova2\ninstances_path = $DATA/nova2/instances\n" > $ETC/nova/nova-compute2.conf
mkdir -p $DATA/nova2/instances
{ cat <<EOF
[DEFAULT]
log_file = $LOG/blazar.log
graceful_shutdown_timeout = 5
transport_url = $RABBIT
os_auth_protocol = http
os_auth_host = $H
os_auth_port = 5000
os_auth_version = v3
os_admin_username = blazar
os_admin_password = $SVC_PW
os_admin_project_name = service
os_admin_user_domain_name = Default
os_admin_project_domain_name = Default
os_region_name = RegionOne
[manager]
plugins = physical.host.plugin,virtual.instance.plugin
[database]
connection = $MY_URL/blazar?charset=utf8
[oslo_concurrency]
lock_path = $DATA/blazar/locks
EOF
authtoken blazar; } > $ETC/blazar/blazar.conf
cat > $R/clouds.yaml <<EOF
clouds:
  admin:
    auth: {auth_url: 'http://$H:5000/v3', username: admin, password: admin, project_name: admin,
           user_domain_name: Default, project_domain_name: Default}
    region_name: RegionOne
    identity_api_version: 3
  demo:
    auth: {auth_url: 'http://$H:5000/v3', username: demo, password: demo, project_name: demo,
           user_domain_name: Default, project_domain_name: Default}
    region_name: RegionOne
    identity_api_version: 3
EOF
export OS_CLIENT_CONFIG_FILE=$R/clouds.yaml

############ 4. DB schema (idempotent) + services ############
T_SVC=$(ts)
KM="$V/bin/keystone-manage --config-file $ETC/keystone/keystone.conf"
NM="$V/bin/nova-manage --config-file $ETC/nova/nova.conf"
step() { local t=$(ts) name=$1; shift; "$@" >>$LOG/setup.log 2>&1 || { echo "FAILED: $name (see $LOG/setup.log)"; exit 1; }; log "$name: $(since $t)s"; }

# Keystone
step "keystone db_sync" $KM db_sync
[ -d $DATA/keystone/fernet-keys ] || step "keystone fernet_setup" $KM fernet_setup --keystone-user root --keystone-group root
[ -d $DATA/keystone/credential-keys ] || step "keystone credential_setup" $KM credential_setup --keystone-user root --keystone-group root
step "keystone bootstrap" $KM bootstrap --bootstrap-password admin --bootstrap-admin-url http://$H:5000/v3 \
  --bootstrap-internal-url http://$H:5000/v3 --bootstrap-public-url http://$H:5000/v3 --bootstrap-region-id RegionOne
# OIDC: keystone has no built-in OIDC token validation (production uses Apache mod_auth_openidc);
# oidc_shim.py validates a bearer JWT (HS256 secret in $DATA/oidc_secret) and sets the OIDC-* environ.
[ -f $DATA/oidc_secret ] || head -c 48 /dev/urandom | base64 -w0 > $DATA/oidc_secret
cat > $R/oidc_shim.py <<'EOF'
"""Stand-in for Apache mod_auth_openidc in front of Keystone (test rig only).

On .../OS-FEDERATION/identity_providers/<idp>/protocols/openid/auth it validates the
'Authorization: Bearer <JWT>' access token (HS256 shared secret, issuer, audience) and
puts the claims into the WSGI environ as OIDC-<claim>, plus REMOTE_USER=sub, which is
what Keystone's 'mapped' auth plugin reads. Everything else goes straight to Keystone.
"""
import json
import os
import jwt
from keystone.wsgi.api import application as keystone_app

SECRET = open(os.environ.get('OSRIG_OIDC_SECRET_FILE', os.environ.get('OSRIG_DIR', '/tmp/osrig') + '/data/oidc_secret')).read().strip()
ISSUER = os.environ.get('OSRIG_OIDC_ISSUER', 'https://idp.osrig.test')
AUDIENCE = os.environ.get('OSRIG_OIDC_AUDIENCE', 'openstack')


def application(environ, start_response):
    path = environ.get('PATH_INFO', '')
    if '/OS-FEDERATION/identity_providers/' in path and path.endswith('/protocols/openid/auth'):
        authz = environ.get('HTTP_AUTHORIZATION', '')
        try:
            if not authz.startswith('Bearer '):
                raise jwt.InvalidTokenError('no bearer token')
            claims = jwt.decode(authz[7:], SECRET, algorithms=['HS256'],
                                audience=AUDIENCE, issuer=ISSUER)
        except jwt.PyJWTError as e:
            body = json.dumps({'error': {'code': 401, 'message': 'OIDC: %s' % e}}).encode()
            start_response('401 Unauthorized', [('Content-Type', 'application/json'),
                                                ('Content-Length', str(len(body)))])
            return [body]
        for k, v in claims.items():
            if isinstance(v, list):
                v = ';'.join(map(str, v))
            environ['OIDC-' + k] = str(v)
        environ['REMOTE_USER'] = str(claims['sub'])
        environ.pop('HTTP_AUTHORIZATION', None)
    return keystone_app(environ, start_response)
EOF
# Keystone runs one request per process: with several threads in one process, concurrent requests
# (services validating tokens while a test makes an application credential) now and then saw each
# other's auth context: "Could not find role assignment with role: <service>" for the demo user.
PROCS=4 THREADS=1 start_uwsgi keystone 5000 oidc_shim:application OS_KEYSTONE_CONFIG_DIR=$ETC/keystone PYTHONPATH=$R
# schema syncs for the other services run while keystone starts
step "placement db sync" $V/bin/placement-manage --config-file $ETC/placement/placement.conf db sync
step "glance db_sync" $V/bin/glance-manage --config-file $ETC/glance/glance-api.conf db_sync
step "neutron db upgrade" $V/bin/neutron-db-manage --config-file $ETC/neutron/neutron.conf \
  --config-file $ETC/neutron/plugins/ml2/ml2_conf.ini upgrade heads
step "nova api_db sync" $NM api_db sync
step "nova map_cell0" $NM cell_v2 map_cell0 --database_connection $PG_URL/nova_cell0
# Not `grep -q`: it stops reading at the first match, nova-manage dies of SIGPIPE, pipefail makes the
# test false, and a restart with kept state tried to create cell1 again ("already exists").
$NM cell_v2 list_cells 2>/dev/null | grep ' cell1 ' >/dev/null || step "nova create_cell" $NM cell_v2 create_cell --name cell1
step "nova db sync" $NM db sync
step "blazar db upgrade" $V/bin/blazar-db-manage --config-file $ETC/blazar/blazar.conf upgrade head
wait_http http://$H:5000/v3 120

# Keystone: service users, catalog, demo project (idempotent)
cat > $R/setup_keystone.py <<'EOF'
import openstack
c = openstack.connect(cloud='admin')
H = 'http://127.0.0.1'
SERVICES = [('placement', 'placement', f'{H}:8778'), ('glance', 'image', f'{H}:9292'),
            ('neutron', 'network', f'{H}:9696'), ('nova', 'compute', f'{H}:8774/v2.1'),
            ('blazar', 'reservation', f'{H}:1234/v1')]
idn = c.identity
dom = idn.find_domain('default')
def role(name):
    return idn.find_role(name) or idn.create_role(name=name)
admin_r, member_r, service_r, reader_r = role('admin'), role('member'), role('service'), role('reader')
def project(name):
    return idn.find_project(name, domain_id=dom.id) or idn.create_project(name=name, domain_id=dom.id)
def user(name, pw, proj, roles):
    u = idn.find_user(name, domain_id=dom.id) or idn.create_user(
        name=name, password=pw, domain_id=dom.id, default_project_id=proj.id)
    for r in roles:
        idn.assign_project_role_to_user(proj, u, r)
svc_p, demo_p = project('service'), project('demo')
user('demo', 'demo', demo_p, [member_r, reader_r])
for name, typ, url in SERVICES:
    user(name, 'service', svc_p, [admin_r, service_r])
    s = next(iter(idn.services(name=name)), None) or idn.create_service(name=name, type=typ)
    have = {e.interface for e in idn.endpoints(service_id=s.id)}
    for iface in ('public', 'internal', 'admin'):
        if iface not in have:
            idn.create_endpoint(service_id=s.id, interface=iface, url=url, region_id='RegionOne')
print('catalog:', sorted(s.type for s in idn.services()))
EOF
step "keystone users/catalog" $V/bin/python $R/setup_keystone.py
cat > $R/setup_oidc.py <<'EOF'
"""Idempotent: Keystone federation objects for the fake OIDC IdP (raw REST via openstacksdk session)."""
import json, openstack
c = openstack.connect(cloud='admin')
ks = 'http://127.0.0.1:5000/v3'
s = c.session
def put(url, body):
    r = s.put(ks + url, json=body, raise_exc=False)
    assert r.status_code in (201, 409), (url, r.status_code, r.text)
idn = c.identity
dom = idn.find_domain('default')
grp = idn.find_group('federated_users', domain_id=dom.id) or idn.create_group(name='federated_users', domain_id=dom.id)
idn.assign_project_role_to_group(idn.find_project('demo', domain_id=dom.id), grp, idn.find_role('member'))
rules = [{"local": [{"user": {"name": "{0}", "email": "{1}"}},
                    {"group": {"name": "federated_users", "domain": {"name": "Default"}}}],
          "remote": [{"type": "OIDC-preferred_username"}, {"type": "OIDC-email"}]}]
put('/OS-FEDERATION/mappings/osrig_oidc_mapping', {'mapping': {'rules': rules}})
put('/OS-FEDERATION/identity_providers/osrig-idp',
    {'identity_provider': {'remote_ids': ['https://idp.osrig.test'], 'enabled': True}})
put('/OS-FEDERATION/identity_providers/osrig-idp/protocols/openid',
    {'protocol': {'mapping_id': 'osrig_oidc_mapping'}})
print('oidc federation objects ok')
EOF
step "keystone OIDC federation objects" $V/bin/python $R/setup_oidc.py

start_uwsgi placement 8778 placement.wsgi.api:application OS_PLACEMENT_CONFIG_DIR=$ETC/placement
start_uwsgi glance 9292 glance.wsgi.api:application OS_GLANCE_CONFIG_DIR=$ETC/glance
start_uwsgi neutron-api 9696 neutron.wsgi.api:application OS_NEUTRON_CONFIG_DIR=$ETC/neutron
for s in conductor scheduler compute; do
  start_bg nova-$s $V/bin/nova-$s --config-file $ETC/nova/nova.conf --log-file $LOG/nova-$s.log
done
start_bg nova-compute2 $V/bin/nova-compute --config-file $ETC/nova/nova.conf --config-file $ETC/nova/nova-compute2.conf \
  --log-file $LOG/nova-compute2.log
# nova's wsgi app takes the paste file from the FIRST config file
start_uwsgi nova-api 8774 nova.wsgi.osapi_compute:application OS_NOVA_CONFIG_DIR=$ETC/nova \
  "OS_NOVA_CONFIG_FILES=api-paste.ini;nova.conf;nova-api.conf"
start_bg blazar-manager $V/bin/blazar-manager --config-file $ETC/blazar/blazar.conf
start_uwsgi blazar-api 1234 blazar.wsgi.api:application OS_BLAZAR_CONFIG_DIR=$ETC/blazar
for p in 8778 9292 9696 8774 1234; do wait_http http://$H:$p/ 120; done
log "all APIs answer: $(since $T_SVC)s after first db sync"

# Resources: image, networks, flavors, compute host mapping, blazar host (idempotent)
[ -f $DATA/fake.img ] || head -c 1048576 /dev/zero > $DATA/fake.img
cat > $R/setup_resources.py <<'EOF'
import os, time, openstack
c = openstack.connect(cloud='admin')
if not c.image.find_image('fake-image'):
    c.create_image('fake-image', filename=os.environ.get('OSRIG_DIR', '/tmp/osrig') + '/data/fake.img', disk_format='raw',
                   container_format='bare', visibility='public', wait=True)
net = c.network
demo = c.identity.find_project('demo')
pub = net.find_network('public') or net.create_network(
    name='public', is_router_external=True, provider_network_type='flat', provider_physical_network='public')
if not net.find_subnet('public-subnet'):
    net.create_subnet(name='public-subnet', network_id=pub.id, ip_version=4,
                      cidr='172.24.4.0/24', gateway_ip='172.24.4.1', is_dhcp_enabled=False)
priv = net.find_network('private', project_id=demo.id) or net.create_network(name='private', project_id=demo.id)
psub = net.find_subnet('private-subnet', project_id=demo.id) or net.create_subnet(
    name='private-subnet', network_id=priv.id, ip_version=4, cidr='10.0.0.0/24', project_id=demo.id)
if not net.find_router('router1', project_id=demo.id):
    rtr = net.create_router(name='router1', project_id=demo.id, external_gateway_info={'network_id': pub.id})
    net.add_interface_to_router(rtr, subnet_id=psub.id)
for name, ram, vcpus, disk in [('m1.tiny', 512, 1, 1), ('m1.small', 2048, 1, 20)]:
    if not c.compute.find_flavor(name):
        c.compute.create_flavor(name=name, ram=ram, vcpus=vcpus, disk=disk, is_public=True)
if not any(a.name == 'freepool' for a in c.compute.aggregates()):  # blazar's host plugin needs it
    c.compute.create_aggregate(name='freepool')
# wait until each nova-compute has reported since ITS OWN start (service rows survive restarts)
import datetime, os
starts = dict(x.split('=') for x in os.environ['COMPUTE_STARTS'].split(','))
for i in range(180):
    svcs = {s.host: s for s in c.compute.services(binary='nova-compute')}
    ok = all(h in svcs and svcs[h].state == 'up' and svcs[h].updated_at and
             datetime.datetime.fromisoformat(svcs[h].updated_at.split('.')[0]).replace(
                 tzinfo=datetime.timezone.utc).timestamp() >= float(t) for h, t in starts.items())
    hyps = {h.name for h in c.compute.hypervisors()}
    if ok and set(starts) <= hyps and len(list(c.placement.resource_providers())) >= len(starts):
        break
    time.sleep(1)
else:
    raise SystemExit('nova-compute services did not report in')
print('hypervisors:', sorted(hyps))
EOF
export COMPUTE_STARTS="osrig-compute1=$(stat -c %Y $RUN/nova-compute.pid),osrig-compute2=$(stat -c %Y $RUN/nova-compute2.pid)"
step "resources (image/networks/flavors/hypervisors)" $V/bin/python $R/setup_resources.py
step "nova discover_hosts" $NM cell_v2 discover_hosts
cat > $R/setup_blazar.py <<'EOF'
import openstack
c = openstack.connect(cloud='admin')
ep = 'http://127.0.0.1:1234/v1'
hosts = c.session.get(ep + '/os-hosts').json()['hosts']
if not any(h['hypervisor_hostname'] == 'osrig-compute2' for h in hosts):
    c.session.post(ep + '/os-hosts', json={'name': 'osrig-compute2'})
print('blazar hosts:', [h['hypervisor_hostname'] for h in c.session.get(ep + '/os-hosts').json()['hosts']])
EOF
step "blazar host osrig-compute2" $V/bin/python $R/setup_blazar.py
T_TOTAL=$(since $T_START)
RSS=$(for f in $RUN/*.pid $DATA/pg/postmaster.pid $DATA/rabbitmq/osrig.pid; do p=$(head -1 $f); echo $p; pgrep -g "$(ps -o pgid= -p $p 2>/dev/null | tr -d ' ')" 2>/dev/null; done | sort -u | xargs -r ps -o rss= -p 2>/dev/null | awk '{s+=$1} END {printf "%.0f", s/1024}')
log "UP. total ${T_TOTAL}s (install ${T_INSTALL}s); RSS of rig process groups ~${RSS} MiB"
echo "export OS_CLIENT_CONFIG_FILE=$R/clouds.yaml   # then: $V/bin/openstack --os-cloud demo server list"
