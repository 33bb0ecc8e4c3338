from rest_framework import serializers

from keys.models import SCOPES, ApiKey, ProviderCredential


class ApiKeyIn(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=SCOPES), required=False, max_length=10)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)
    allowed_ips = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, max_length=100, help_text="CIDRs, IPv4 or IPv6."
    )


class ApiKeyOut(serializers.ModelSerializer):
    masked = serializers.SerializerMethodField(help_text="How to recognise the key: its visible prefix.")
    status = serializers.SerializerMethodField()
    allowed_ips = serializers.JSONField(source="allowed_networks")
    secret = serializers.SerializerMethodField(help_text="Only in the response that created or rotated the key.")

    class Meta:
        model = ApiKey
        fields = [
            "id",
            "name",
            "masked",
            "status",
            "scopes",
            "allowed_ips",
            "expires_at",
            "revoked_at",
            "rotated_at",
            "previous_valid_until",
            "last_used_at",
            "last_used_ip",
            "created_at",
            "secret",
        ]

    def get_masked(self, key) -> str:
        return f"{key.prefix}…"

    def get_status(self, key) -> str:
        if key.revoked_at:
            return "revoked"
        return "active" if key.is_active else "expired"

    def get_secret(self, key) -> str | None:
        return self.context.get("secret")


class ProviderKeyIn(serializers.Serializer):
    provider = serializers.ChoiceField(choices=ProviderCredential.Provider.choices)
    label = serializers.CharField(max_length=100, required=False, default="", allow_blank=True)
    secret = serializers.CharField(max_length=4000, required=False, write_only=True, trim_whitespace=True)
    access_key = serializers.CharField(max_length=4000, required=False, write_only=True, help_text="Kling only.")
    secret_key = serializers.CharField(max_length=4000, required=False, write_only=True, help_text="Kling only.")


class ProviderKeyOut(serializers.ModelSerializer):
    class Meta:
        model = ProviderCredential
        fields = [
            "id",
            "provider",
            "label",
            "masked",
            "status",
            "status_message",
            "last_validated_at",
            "created_at",
            "revoked_at",
        ]

    masked = serializers.CharField(read_only=True, help_text="The last 4 characters: `…abcd`.")
