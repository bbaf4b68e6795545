from django.contrib.auth.models import AbstractUser


class User(AbstractUser):
    """A person who signs in to Atrium.

    Our own model from the first migration so identity fields (the OIDC issuer
    and subject that key a federated user) can be added without a swap later.
    """

    class Meta:
        ordering = ["username"]

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.username
