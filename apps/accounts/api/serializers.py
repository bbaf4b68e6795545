from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.accounts.models import ApiToken, SshPublicKey, User
from apps.core.names import NAME_RULE, name_validator


class MeSerializer(serializers.ModelSerializer[User]):
    display_name = serializers.CharField(read_only=True)

    class Meta:
        model = User
        fields = ["id", "username", "display_name", "email", "first_name", "last_name", "is_staff"]
        read_only_fields = fields


class ApiTokenSerializer(serializers.ModelSerializer[ApiToken]):
    expires_in_days = serializers.IntegerField(
        write_only=True, required=False, allow_null=True, min_value=1, max_value=3650, help_text="Omit for no expiry."
    )

    class Meta:
        model = ApiToken
        fields = ["token_key", "name", "created", "expiry", "last_used_at", "expires_in_days"]
        read_only_fields = ["token_key", "created", "expiry", "last_used_at"]
        extra_kwargs = {
            "token_key": {"help_text": "The token's first characters, which identify it."},
            "name": {
                "validators": [name_validator],
                "trim_whitespace": False,  # the service trims; the schema's maxLength counts what is sent
                "help_text": f"What the token is for; unique among your tokens. {NAME_RULE}",
            },
        }


class ApiTokenCreatedSerializer(ApiTokenSerializer):
    token = serializers.CharField(read_only=True, help_text="The full key. Shown only in this answer: keep it safe.")

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "token"]


#: What the schema says a public key looks like: a type Atrium accepts, the key, an optional
#: comment. The services check the rest (it parses, RSA of 2048 bits or more) with their messages.
SSH_PUBLIC_KEY_PATTERN = r"^\s*(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521))\s+[A-Za-z0-9+/]+={0,2}(\s.*)?$"


@extend_schema_field({"type": "string", "pattern": SSH_PUBLIC_KEY_PATTERN})
class _PublicKeyField(serializers.CharField):
    """A CharField whose schema has the key's pattern (the check itself is ssh_key_parse's)."""


class SshPublicKeySerializer(serializers.ModelSerializer[SshPublicKey]):
    name = serializers.CharField(
        max_length=100,
        required=False,
        allow_blank=True,
        validators=[name_validator],
        help_text=f"Unique among your keys; omit (or leave empty) for the key's comment. {NAME_RULE}",
    )
    public_key = _PublicKeyField(
        help_text="One line of your .pub file: ed25519, ECDSA, or RSA of 2048 bits or more; unique among your keys."
    )

    class Meta:
        model = SshPublicKey
        fields = ["id", "name", "public_key", "key_type", "bits", "fingerprint", "created_at"]
        read_only_fields = ["id", "key_type", "bits", "fingerprint", "created_at"]
