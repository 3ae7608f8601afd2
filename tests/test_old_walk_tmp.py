import pytest
from accounts.models import Principal
from tests import test_staff_surfaces as w

pytestmark = pytest.mark.django_db


@pytest.fixture
def helpdesk(db):
    return Principal.objects.create_superuser("helpdesk", "support-Password-3456")


@pytest.fixture
def ops_admin(db):
    return Principal.objects.create_superuser("ops-admin", "admin-Password-7890")


tenant = w.tenant


@pytest.mark.parametrize("who", ["support"])
def test_old_no_grant(who, tenant, helpdesk, ops_admin):
    w.test_it_shows_no_tenant_data_anywhere_without_a_grant(who, tenant, helpdesk, ops_admin)


def test_old_admin_during_grant(tenant, helpdesk, ops_admin):
    w.test_it_shows_no_tenant_data_to_others_than_support_during_a_grant(
        "admin", tenant, helpdesk, ops_admin
    )
