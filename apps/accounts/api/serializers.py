from rest_framework import serializers

from apps.accounts.models import User


class MeSerializer(serializers.ModelSerializer[User]):
    display_name = serializers.CharField(read_only=True)

    class Meta:
        model = User
        fields = ["id", "username", "display_name", "email", "first_name", "last_name", "is_staff"]
        read_only_fields = fields
