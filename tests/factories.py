import factory

from apps.accounts.models import User
from apps.tenancies.models import Cloud, Membership, Tenancy


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = "Ada"
    last_name = factory.Sequence(lambda n: f"Tester{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    password = factory.PostGenerationMethodCall("set_password", "pw-for-tests")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class CloudFactory(factory.django.DjangoModelFactory[Cloud]):
    class Meta:
        model = Cloud
        django_get_or_create = ["name"]

    name = "Test cloud"
    driver = Cloud.Driver.LOCAL


class TenancyFactory(factory.django.DjangoModelFactory[Tenancy]):
    class Meta:
        model = Tenancy

    name = factory.Sequence(lambda n: f"Tenancy {n}")
    cloud = factory.SubFactory(CloudFactory)
    project_id = factory.Sequence(lambda n: f"project-{n}")


class MembershipFactory(factory.django.DjangoModelFactory[Membership]):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    tenancy = factory.SubFactory(TenancyFactory)
    role = Membership.Role.MEMBER
