from rest_framework import serializers

from ..models import ApiToken, TrainingConsent


class TokenLoginSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, style={"input_type": "password"})
    name = serializers.CharField(max_length=100, required=False, default="API login")


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField()
    id = serializers.IntegerField()
    name = serializers.CharField()


class ApiTokenSerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiToken
        fields = ("id", "name", "prefix", "created_at", "last_used_at", "revoked_at")


class ConsentSerializer(serializers.Serializer):
    training_consent = serializers.ChoiceField(
        choices=TrainingConsent.choices,
        help_text="none: trains nothing; own: your personal model only; shared: yours and the shared model.",
    )
